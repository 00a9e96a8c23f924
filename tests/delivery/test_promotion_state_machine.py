"""Random sequences of push, promote, load test, rollback and tampering against the rules.

Each step checks its own outcome against an independent reading of the records (a refusal must
have a true reason; a success must have met every rule), and after every step the invariants
hold: prod only ever runs artifacts that passed a load test in staging, and every record on disk
parses whole.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from components.model_store import model_digest
from delivery import release as rel
from delivery.promotion import PromotionRefused, _resolve

from .conftest import Repo

ENVS = ("dev", "staging", "prod")
SOURCE = {"staging": "dev", "prod": "staging"}


class Promotions(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory()
        self.repo = Repo(Path(self.tmp.name) / "repo")
        self.d = self.repo.delivery
        self.pushed: list[int] = []
        self.passed_in_staging: set[tuple[int, str]] = set()

    def teardown(self) -> None:
        self.tmp.cleanup()

    def current(self, env: str) -> rel.Release | None:
        record = self.d.record(env)
        return record.current if record else None

    def intact(self, release: rel.Release) -> bool:
        path = Path(_resolve(release.uri))
        return path.exists() and model_digest(path) == release.digest

    @rule()
    def push(self) -> None:
        self.pushed.append(self.repo.push())

    @rule()
    def promote_to_dev(self) -> None:
        before = self.current("dev")
        try:
            after = self.d.promote_from_pipeline("dev").current
        except PromotionRefused as exc:
            assert exc.rule in ("pipeline-output", "not-already-there", "digest-matches"), exc
            if exc.rule == "pipeline-output":
                assert not self.pushed
            if exc.rule == "not-already-there":
                assert before is not None and before.version == self.pushed[-1]
            return
        assert after.version == self.pushed[-1]
        assert self.intact(after)

    @rule(env=st.sampled_from(ENVS), passed=st.booleans())
    def load_test(self, env: str, passed: bool) -> None:
        current = self.current(env)
        try:
            self.repo.pass_loadtest(env, passed)
        except PromotionRefused:
            assert current is None
            return
        if env == "staging" and passed:
            self.passed_in_staging.add((current.version, current.digest))

    @rule(pair=st.sampled_from([("dev", "staging"), ("staging", "prod"), ("dev", "prod"),
                                ("prod", "staging")]))
    def promote(self, pair: tuple[str, str]) -> None:
        src, dst = pair
        source, target = self.current(src), self.current(dst)
        try:
            after = self.d.promote(src, dst).current
        except PromotionRefused as exc:
            reasons = {
                "stage-order": SOURCE.get(dst) != src,
                "source-released": source is None,
                "load-test-passed": source is not None and source.loadtest.verdict != "PASS",
                "digest-matches": source is not None and not self.intact(source),
                "not-already-there": target is not None and source is not None
                and target.same_artifact(source),
                "store-conflict": True,
            }
            assert reasons[exc.rule], f"refused for {exc.rule} without cause: {exc}"
            assert self.current(dst) == target  # nothing written
            return
        assert SOURCE.get(dst) == src and source.loadtest.verdict == "PASS"
        assert (after.version, after.digest) == (source.version, source.digest)
        assert self.intact(after)

    @rule(env=st.sampled_from(ENVS))
    def rollback(self, env: str) -> None:
        record = self.d.record(env)
        try:
            after = self.d.rollback(env)
        except PromotionRefused as exc:
            assert record is None or not record.history or not self.intact(record.history[0])
            assert exc.rule in ("previous-release", "digest-matches")
            return
        assert after.current == record.history[0]
        assert after.history == record.history[1:]

    @rule(pair=st.sampled_from([(None, "dev"), ("dev", "staging"), ("staging", "prod")]))
    def crash_while_writing(self, pair: tuple[str | None, str]) -> None:
        """The disk fails at the final rename: the record on disk stays exactly as it was."""
        src, dst = pair
        path = self.repo.environments / dst / rel.RECORD_FILE
        before = path.read_bytes() if path.exists() else None
        real = rel.os.replace

        def crash(*_args, **_kwargs):
            raise OSError("simulated crash")

        rel.os.replace = crash
        try:
            if src is None:
                self.d.promote_from_pipeline(dst)
            else:
                self.d.promote(src, dst)
        except (OSError, PromotionRefused):
            pass
        finally:
            rel.os.replace = real
        assert (path.read_bytes() if path.exists() else None) == before

    @precondition(lambda self: self.pushed)
    @rule(env=st.sampled_from(ENVS))
    def tamper(self, env: str) -> None:
        current = self.current(env)
        if current is None:
            return
        target = Path(_resolve(current.uri)) / "variables" / "variables.data-00000-of-00001"
        target.write_bytes(b"tampered")

    @invariant()
    def prod_only_runs_what_passed_staging(self) -> None:
        record = self.d.record("prod")
        if record is None:
            return
        for release in [record.current, *record.history]:
            assert (release.version, release.digest) in self.passed_in_staging

    @invariant()
    def records_are_whole(self) -> None:
        for env in ENVS:
            self.d.record(env)  # raises on a partial or malformed file
            leftovers = list((self.repo.environments / env).glob(".release.yaml.*"))
            assert leftovers == []


Promotions.TestCase.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow])
TestPromotions = Promotions.TestCase
