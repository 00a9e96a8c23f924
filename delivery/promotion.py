"""Promotion rules: which release may move where, checked before anything is written.

The rules form a small state machine over the environments' release records:
- dev takes the candidate the pipeline pushed (both digests checked);
- every other environment takes exactly the artifact its `deploy.promote_from` environment runs
  (same version, same digests; tagged or copied byte for byte, never rebuilt), and only after
  that release passed its load test there; stages are never skipped;
- the model in the store must still have the digests its record names (it is pulled and
  checked before anything moves);
- a promotion to the version already running is refused;
- rollback returns an environment to its previous release, exactly as it was.
Each refusal names the rule and what to do. A refused command changes nothing: no record, no
manifest, no tag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from core import config, registry_setup
from core.config import EnvironmentConfig
from core.errors import ConfigError
from core.paths import ENVIRONMENTS_DIR
from core.provenance import actor, git_commit
from core.uris import repo_relative, resolve
from core.verdicts import Rule
from delivery import rules
from delivery.rules import PIPELINE, PromotionRefused
from store import release as rel
from store.model_store import Artifact, ModelStore, StoreError, open_store, store_of

__all__ = [
    "PIPELINE",
    "AlreadyCurrent",
    "Delivery",
    "PromotionRefused",
    "actor",
    "git_commit",
]


def artifact_of(release: rel.Release) -> Artifact:
    return Artifact(release.version, release.digest, resolve(release.uri))


def _refusal(exc: StoreError) -> PromotionRefused:
    return PromotionRefused(exc.rule, str(exc))


@dataclass(frozen=True)
class AlreadyCurrent:
    """A promotion that found its target already running the release, accepted as success
    (`--ok-if-current`, for re-runs); nothing was written."""

    env: str
    reason: str


@dataclass
class Delivery:
    """The promotion commands over one environments/ folder."""

    environments_dir: Path = ENVIRONMENTS_DIR
    output_root: str | None = None  # `mlops run --output`: where dev's pipeline wrote

    def cfg(self, env: str) -> EnvironmentConfig:
        """The environment's config; `output_root` relocates only the one fed by the pipeline."""
        cfg = config.load(env, self.environments_dir)
        if self.output_root and not cfg.deploy.promote_from:
            cfg = config.load(env, self.environments_dir, output_root=self.output_root)
        return cfg

    def order(self) -> list[str]:
        """Environments from the pipeline's end to production (validated at config load)."""
        return config.promotion_order(self.environments_dir)

    def record(self, env: str) -> rel.Record | None:
        return rel.read(self.environments_dir, env)

    def store(self, env: str) -> ModelStore:
        cfg = self.cfg(env)
        registry_setup.require_usable(cfg)
        return open_store(cfg.model_store_dir)

    def cache_dir(self, env: str) -> Path:
        """Where models pulled for checks are kept: build/<env>/models."""
        return Path(self.cfg(env).work_dir) / "models"

    # --- the commands ---------------------------------------------------------------------

    def candidate(self, env: str, summary_file: Path | None = None) -> tuple[Artifact, dict]:
        """What the pipeline pushed for `env`: from a run summary, else the store's newest."""
        cfg = self.cfg(env)
        default = Path(cfg.paths.pipeline_root).parent / "run_summary.json"
        path = summary_file or default
        try:
            summary = json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--summary: {path} is not a run summary: {exc}") from None
        if summary_file is not None:
            if (
                not summary.get("pushed")
                or not summary.get("pushed_path")
                or not str(summary.get("pushed_version")).isdigit()
            ):
                raise PromotionRefused(
                    Rule.PIPELINE_OUTPUT,
                    f"{summary_file} names no pushed model (the run did not bless or push one)",
                )
            artifact = Artifact(
                int(summary["pushed_version"]),
                str(summary["model_digest"]),
                resolve(str(summary["pushed_path"])),
            )
            return artifact, summary
        newest = self.store(env).newest()
        if newest is None:
            raise PromotionRefused(
                Rule.PIPELINE_OUTPUT,
                f"no pushed model in "
                f"{repo_relative(cfg.model_store_dir)}: run `mlops run --env "
                f"{env}` (it pushes only blessed models)",
            )
        if str(summary.get("pushed_version")) != str(newest.version):
            summary = {}  # the summary on disk is about another run
        elif summary.get("model_digest") and summary["model_digest"] != newest.tree_digest:
            raise PromotionRefused(
                Rule.DIGEST_MATCHES,
                f"{repo_relative(newest.ref)} has digest "
                f"{newest.tree_digest} but the run that pushed it recorded "
                f"{summary['model_digest']}: the model changed after the "
                f"push; re-run the pipeline",
            )
        return newest, summary

    def promote_to(
        self,
        target: str,
        source: str | None = None,
        *,
        expect_version: int | None = None,
        summary_file: Path | None = None,
        defer_store: bool = False,
        ok_if_current: bool = False,
    ) -> rel.Record | AlreadyCurrent:
        """`mlops promote`: from the pipeline (no `source`) or from `source`'s release.

        With `ok_if_current`, a target that already runs the release is success, not a refusal.
        """
        if source is not None and summary_file is not None:
            raise ConfigError(
                "--summary: only with a promotion from the pipeline (no "
                "--from); other environments take their source's release"
            )
        try:
            if source is None:
                return self.promote_from_pipeline(
                    target, expect_version=expect_version, summary_file=summary_file
                )
            return self.promote(
                source, target, expect_version=expect_version, defer_store=defer_store
            )
        except PromotionRefused as exc:
            if ok_if_current and exc.rule == "not-already-there":
                return AlreadyCurrent(target, exc.reason)
            raise

    def promote_from_pipeline(
        self, env: str, expect_version: int | None = None, summary_file: Path | None = None
    ) -> rel.Record:
        """The candidate the pipeline pushed for `env` becomes its release."""
        cfg = self.cfg(env)
        rules.stage_order(cfg.deploy.promote_from, None, env)
        artifact, summary = self.candidate(env, summary_file)
        rules.expected_version(expect_version, artifact.version, "the pipeline's candidate")
        metrics = dict((summary.get("overall") or {}).get("metrics") or {})
        new = rel.Release(
            model_name=cfg.model_name,
            version=artifact.version,
            digest=artifact.tree_digest,
            uri=repo_relative(artifact.ref),
            git_commit=summary.get("source_commit") or git_commit(),
            pipeline_run=summary.get("pipeline_run", ""),
            promoted_from=PIPELINE,
            promoted_at=rel.now(),
            promoted_by=actor(),
            metrics={k: round(float(v), 6) for k, v in metrics.items() if v is not None},
            spans=summary.get("spans") or [],
            data_root=repo_relative(summary["data_root"]) if summary.get("data_root") else "",
            report=summary.get("run_url") or "",
        )
        return self._install(env, new, artifact)

    def promote(
        self, src: str, dst: str, expect_version: int | None = None, defer_store: bool = False
    ) -> rel.Record:
        """`defer_store`: write the record and manifests for a pull request, but leave the
        store (the registry tag) alone until the merge: `sync` moves it then."""
        rules.stage_order(self.cfg(dst).deploy.promote_from, src, dst)
        current = rules.source_released(src, self.record(src))
        rules.expected_version(expect_version, current.version, f"{src}'s release")
        rules.load_test_passed(src, current)
        rules.analysis_passed(src, self.cfg(src).rollout.strategy, current)
        new = replace(
            current,
            promoted_from=src,
            promoted_at=rel.now(),
            promoted_by=actor(),
            loadtest=rel.LoadTest(),  # it has not been load-tested in `dst` yet
            analysis=rel.Analysis(),  # nor analysed there
        )
        return self._install(dst, new, artifact_of(current), check_env=src, defer_store=defer_store)

    def rollback(self, env: str, defer_store: bool = False) -> rel.Record:
        """The previous release runs again; the one it replaces stays in history, marked.
        `defer_store`: the record only, for a pull request; `sync` moves the tag after merge."""
        record = self.record(env)
        previous = rules.previous_release(env, record)
        assert record is not None  # previous_release refuses an environment without a record
        left = replace(record.current, rolled_back_at=rel.now(), rolled_back_by=actor())
        earlier = [r for r in record.history if r is not previous]
        rolled = rel.Record(env, previous, [left, *earlier])
        self._move(
            env, artifact_of(previous), record, rolled, check_env=env, defer_store=defer_store
        )
        return rolled

    def record_loadtest(
        self,
        env: str,
        verdict: str,
        report: str,
        *,
        p95_ms: float,
        p99_ms: float,
        rps: float,
        failure_ratio: float,
    ) -> rel.Record:
        record = self.record(env)
        if record is None:
            raise PromotionRefused(
                Rule.SOURCE_RELEASED,
                f"{env} has no release to attach a load test to; promote to {env} first",
            )
        record.current.loadtest = rel.LoadTest(
            verdict,
            rel.now(),
            repo_relative(report),
            round(p95_ms, 3),
            round(p99_ms, 3),
            round(rps, 3),
            round(failure_ratio, 6),
        )
        self._write(env, record)
        return record

    def record_analysis(
        self,
        env: str,
        verdict: str,
        *,
        requests: float | None,
        error_ratio: float | None,
        p99_ms: float | None,
    ) -> rel.Record:
        """The shadow or canary analysis of `env`'s current release, beside its load test."""
        record = self.record(env)
        if record is None:
            raise PromotionRefused(
                Rule.SOURCE_RELEASED,
                f"{env} has no release to attach an analysis to; promote to {env} first",
            )

        def rounded(x: float | None, digits: int) -> float | None:
            return None if x is None or x != x else round(x, digits)  # NaN: no figure

        record.current.analysis = rel.Analysis(
            verdict,
            rel.now(),
            self.cfg(env).rollout.strategy,
            rounded(requests, 1),
            rounded(error_ratio, 6),
            rounded(p99_ms, 3),
            version=record.current.version,
            digest=record.current.digest,
        )
        self._write(env, record)
        return record

    # --- helpers ----------------------------------------------------------------------------

    def verify(self, env: str, artifact: Artifact) -> Path:
        """Pull (or read) the artifact and check both digests; the local folder it is in."""
        try:
            return store_of(artifact.ref).materialize(artifact, self.cache_dir(env))
        except StoreError as exc:
            raise PromotionRefused(
                exc.rule,
                f"{exc} ({env}'s release, version "
                f"{artifact.version}). Do not promote it; run the pipeline "
                f"and promote a fresh release",
            ) from None

    def sync(self, env: str) -> rel.Record | None:
        """Make `env`'s store match its record (tag moved, or artifact copied), after a
        promotion pull request merged; the tag may move only from the previous release."""
        record = self.record(env)
        if record is None:
            return None
        previous = artifact_of(record.history[0]) if record.history else None
        return self._move(
            env, artifact_of(record.current), record, record, check_env=env, expected=previous
        )

    def _install(
        self,
        env: str,
        new: rel.Release,
        artifact: Artifact,
        check_env: str | None = None,
        defer_store: bool = False,
    ) -> rel.Record:
        old = self.record(env)
        rules.not_already_there(env, old, new)
        history = [old.current, *old.history] if old else []
        record = rel.Record(env, new, history)
        return self._move(
            env, artifact, old, record, check_env=check_env or env, defer_store=defer_store
        )

    def _move(
        self,
        env: str,
        artifact: Artifact,
        old: rel.Record | None,
        record: rel.Record,
        check_env: str,
        defer_store: bool = False,
        expected: Artifact | None = None,
    ) -> rel.Record:
        """Verify, render, move the store's pointer, then write record and manifests.

        Every check that can refuse runs before the first write; the store's pointer (an OCI
        tag) moves only from what the old record says it points at.
        """
        self.verify(check_env, artifact)
        from delivery import manifests

        cfg = config.load(env, self.environments_dir)
        manifests.render_environment(cfg, record)  # fails here, before anything changes
        if defer_store:  # the digest-addressed source reference, until `sync` after merge
            record.current.uri = repo_relative(artifact.ref)
            self._write(env, record)
            return record
        if expected is None and old is not None and old is not record:
            expected = artifact_of(old.current)
        try:
            adopted = self.store(env).adopt(artifact, env, expected)
        except StoreError as exc:
            raise _refusal(exc) from None
        if record is old and repo_relative(adopted.ref) == record.current.uri:
            return record  # already in sync: nothing to write
        record.current.uri = repo_relative(adopted.ref)
        self._write(env, record)
        return record

    def _write(self, env: str, record: rel.Record) -> None:
        """Record and manifests together: render first (may fail), then replace both."""
        from delivery import manifests

        cfg = config.load(env, self.environments_dir)
        rendered = manifests.render_environment(cfg, record)
        rel.write(self.environments_dir, record)
        manifests.write_environment(self.environments_dir, env, rendered)
