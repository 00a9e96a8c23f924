"""The release rules `mlops` composes, called directly: they live in delivery/, not the CLI.

The regression baseline of a run, the release a load-test verdict may describe, the versions a
local server loads, and `--ok-if-current` each decide something about a release; these tests
hold each decision to its rule without going through argument parsing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError, MlopsError
from core.uris import display
from core.verdicts import Rule
from delivery import baseline, loadtest_record, serve_release
from delivery.baseline import released_baseline
from delivery.promotion import AlreadyCurrent, PromotionRefused
from mlops import cli
from serving.client import PredictionError
from serving.loadtest import LoadTestResult, SloCheck
from store import release as rel
from store.model_store import ArtifactMissing, model_digest, open_store
from tests.support.project import MODEL
from tests.support.repo import update_overlay
from tests.support.stores import Repo

# --- --ok-if-current and --summary -------------------------------------------------------------


def test_ok_if_current_accepts_only_the_already_there_refusal(repo: Repo, capsys) -> None:
    version = repo.push()
    assert isinstance(repo.delivery.promote_to("dev"), rel.Record)
    with pytest.raises(PromotionRefused, match="not-already-there"):
        repo.delivery.promote_to("dev")
    outcome = repo.delivery.promote_to("dev", ok_if_current=True)
    running = repo.current("dev").short()
    assert outcome == AlreadyCurrent("dev", f"dev already runs {running}; nothing to promote")
    assert str(version) in outcome.reason
    with pytest.raises(PromotionRefused, match="load-test-passed"):  # other refusals stay
        repo.delivery.promote_to("staging", "dev", ok_if_current=True)

    args = ["--environments", str(repo.environments), "promote", "--to", "dev"]
    assert cli.main([*args, "--ok-if-current"]) == 0
    assert capsys.readouterr().out == f"dev: {outcome.reason}\n"
    assert cli.main(args) == 1


def test_a_run_summary_names_only_a_candidate_of_the_pipeline(repo: Repo) -> None:
    with pytest.raises(ConfigError, match=r"--summary: only with a promotion from the pipeline"):
        repo.delivery.promote_to("staging", "dev", summary_file=Path("run_summary.json"))


# --- the regression baseline of a run ----------------------------------------------------------


def test_the_baseline_is_the_release_of_the_environment_the_run_feeds(repo: Repo) -> None:
    dev = repo.delivery.cfg("dev")
    assert released_baseline(repo.environments, dev) == (
        None,
        "dev has no release yet in environments/dev/release.yaml",
    )
    version = repo.push()
    promoted = repo.delivery.promote_to("dev")
    assert isinstance(promoted, rel.Record)
    release = promoted.current
    baseline, note = released_baseline(repo.environments, dev)
    assert note == "" and baseline is not None
    assert (baseline.environment, baseline.version, baseline.digest) == (
        "dev",
        version,
        release.digest,
    )
    assert (Path(baseline.model_uri) / "Format-Serving" / "saved_model.pb").exists()
    staging = repo.delivery.cfg("staging")  # fed by dev, not by the pipeline: no baseline
    assert released_baseline(repo.environments, staging) == (None, "")


def test_an_unreadable_baseline_stops_the_run(repo: Repo) -> None:
    version = repo.push()
    release = repo.delivery.promote_to("dev")
    assert isinstance(release, rel.Record)
    store = repo.delivery.cfg("dev").model_store_dir
    shutil.rmtree(repo.store("dev") / str(version))
    with pytest.raises(PromotionRefused, match="cannot be read") as refused:
        released_baseline(repo.environments, repo.delivery.cfg("dev"))
    assert refused.value.rule == Rule.ARTIFACT_EXISTS  # the store's own rule
    assert str(refused.value) == (
        f"refused (artifact-exists): the baseline, dev's release "
        f"{release.current.short()}, cannot be read: {store}/{version} holds no SavedModel "
        f"(version {version} is missing from {store}). The regression gate needs it; restore "
        f"the artifact or roll back the record"
    )
    assert f"dev's release version {version}" in str(refused.value)


def test_a_baseline_failure_without_a_rule_is_refused_under_store(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo.push()
    repo.delivery.promote_to("dev")

    def unreadable(*_args: object) -> None:
        raise MlopsError("the pulled copy cannot be laid out")

    monkeypatch.setattr(baseline, "import_release", unreadable)
    with pytest.raises(PromotionRefused) as refused:
        released_baseline(repo.environments, repo.delivery.cfg("dev"))
    assert refused.value.rule == Rule.STORE
    assert "cannot be read: the pulled copy cannot be laid out." in str(refused.value)


def test_a_run_compiled_for_another_runner_has_no_local_baseline(repo: Repo) -> None:
    """Only the local runner compares with a pulled release; a compiled pipeline does not."""
    repo.push()
    repo.delivery.promote_to("dev")
    update_overlay(
        repo.environments,
        "dev",
        {
            "orchestration": {
                "runner": "kubeflow_v2",
                "image": "example.com/pipeline@sha256:" + "1" * 64,
                "compiled_pipeline": "build/dev/pipeline.json",
            },
            "data": {"window_spans": 1},
        },
    )
    assert released_baseline(repo.environments, repo.delivery.cfg("dev")) == (None, "")


# --- a load-test verdict describes the release -------------------------------------------------


class _Server:
    """Answers TF Serving's model status for the versions it holds."""

    base_url = "http://127.0.0.1:1"

    def __init__(self, *versions: int) -> None:
        self.versions = versions

    def status(self, version: int | None = None) -> dict[str, Any]:
        if version not in self.versions:
            raise PredictionError(f"HTTP 404: version {version} not found")
        return {"model_version_status": [{"version": str(version), "state": "AVAILABLE"}]}


def test_a_verdict_is_recorded_only_against_the_served_release(repo: Repo) -> None:
    with pytest.raises(PromotionRefused) as refused:
        loadtest_record.check_serves_the_release(repo.environments, "dev", _Server(1))
    assert str(refused.value) == (
        "refused (source-released): dev has no release to attach a load test to; promote to "
        "dev first"
    )
    version = repo.push()
    repo.delivery.promote_to("dev")
    with pytest.raises(PromotionRefused, match="serves-the-release") as refused:
        loadtest_record.check_serves_the_release(repo.environments, "dev", _Server(version - 1))
    assert f"release version {version}; a verdict recorded now" in str(refused.value)
    assert "Serve the release with `mlops serve --env dev --release`" in str(refused.value)
    loadtest_record.check_serves_the_release(repo.environments, "dev", _Server(version))


@pytest.mark.parametrize("p95_ms, verdict", [(120.0, "PASS"), (480.0, "FAIL")])
def test_the_recorded_verdict_is_the_gates(repo: Repo, p95_ms: float, verdict: str) -> None:
    repo.push()
    repo.delivery.promote_to("dev")
    result = LoadTestResult(
        env="dev",
        url="http://127.0.0.1:1",
        users=2,
        seconds=5,
        requests=50,
        failures=0,
        rps=10.0,
        p50_ms=50.0,
        p95_ms=p95_ms,
        p99_ms=p95_ms + 10,
        checks=[SloCheck("p95 latency", "p95_ms", p95_ms, 250.0, " ms")],
        reports_dir=str(repo.root / "reports"),
    )
    record = loadtest_record.record_result(repo.environments, "dev", result)
    assert record.current.loadtest.verdict == verdict
    assert repo.current("dev").loadtest.p95_ms == p95_ms
    assert repo.current("dev").loadtest.report == str(repo.root / "reports")


@pytest.mark.parametrize("requests, failures, ratio", [(50, 5, 0.1), (0, 0, 1.0)])
def test_the_recorded_failure_ratio_counts_no_requests_as_all_failed(
    repo: Repo, requests: int, failures: int, ratio: float
) -> None:
    repo.push()
    repo.delivery.promote_to("dev")
    result = LoadTestResult(
        env="dev",
        url="http://127.0.0.1:1",
        users=2,
        seconds=5,
        requests=requests,
        failures=failures,
        rps=10.0,
        p50_ms=50.0,
        p95_ms=60.0,
        p99_ms=70.0,
        checks=[],
        reports_dir=str(repo.root / "reports"),
    )
    record = loadtest_record.record_result(repo.environments, "dev", result)
    assert record.current.loadtest.failure_ratio == ratio
    assert repo.current("dev").loadtest.failure_ratio == ratio


# --- what a local server loads -----------------------------------------------------------------


def test_a_specific_policy_serves_the_release_the_record_names(any_repo: Repo) -> None:
    repo = any_repo
    update_overlay(repo.environments, "dev", {"serving": {"version_policy": "specific"}})
    first = repo.push()
    repo.delivery.promote_to("dev")
    repo.push()  # newer, not released
    cfg = repo.delivery.cfg("dev")
    record = rel.read(repo.environments, "dev")
    chosen = serve_release.plan(repo.environments, cfg, None)
    assert (chosen.versions, chosen.labels) == ([first], {"stable": first})
    assert chosen.source.endswith("dev/release.yaml") and chosen.record == record
    asked = serve_release.plan(repo.environments, cfg, [first + 1])
    assert (asked.versions, asked.labels, asked.source) == ([first + 1], None, "--version")
    assert asked.record == record
    with pytest.raises(ConfigError) as missing:
        serve_release.plan(repo.environments, cfg, [999])
    assert str(missing.value) == (
        f"--version: version 999 is not in the model store {cfg.model_store_dir} (versions "
        f"there: {first}, {first + 1})"
    )
    served = serve_release.pulled_store(cfg, chosen)
    if repo.kind == "folder":
        assert served is None  # TF Serving polls a folder store in place
    else:  # a registry is pulled, by digest, into a folder TF Serving can poll
        assert served is not None
        assert sorted(p.name for p in Path(served).iterdir()) == [str(first)]
        assert (Path(served) / str(first) / "saved_model.pb").exists()


def test_release_serves_the_record_whatever_the_policy(repo: Repo) -> None:
    """`serve --release` (what `make serve-and-loadtest` runs): the released version, although
    dev's `latest` policy alone would serve the newer push."""
    for env, promote in (("dev", "--to dev"), ("staging", "--from dev --to staging")):
        with pytest.raises(ConfigError) as unreleased:
            serve_release.plan(repo.environments, repo.delivery.cfg(env), None, release=True)
        path = display(rel.record_path(repo.environments, env))
        assert str(unreleased.value) == (
            f"--release: {env} has no release ({path} does not exist): promote one first "
            f"(`mlops promote {promote}`), or serve without --release"
        )
    first = repo.push()
    repo.delivery.promote_to("dev")
    repo.push()  # newer, not released
    cfg = repo.delivery.cfg("dev")
    chosen = serve_release.plan(repo.environments, cfg, None, release=True)
    assert (chosen.versions, chosen.labels) == ([first], {"stable": first})
    assert chosen.source.endswith("dev/release.yaml")


def test_a_latest_policy_leaves_the_choice_to_the_server(repo: Repo) -> None:
    repo.push()
    repo.delivery.promote_to("dev")
    chosen = serve_release.plan(repo.environments, repo.delivery.cfg("dev"), None)
    assert (chosen.versions, chosen.labels) == (None, None)


def test_a_release_gone_from_the_store_is_named_by_its_record(repo: Repo) -> None:
    update_overlay(repo.environments, "dev", {"serving": {"version_policy": "specific"}})
    first = repo.push()
    repo.delivery.promote_to("dev")
    second = repo.push()
    shutil.rmtree(repo.store("dev") / str(first))
    cfg = repo.delivery.cfg("dev")
    with pytest.raises(ConfigError) as missing:
        serve_release.plan(repo.environments, cfg, None)
    assert str(missing.value) == (
        f"{display(rel.record_path(repo.environments, 'dev'))}: version {first} is not in the "
        f"model store {cfg.model_store_dir} (versions there: {second})"
    )


# --- a registry is pulled into a folder the server polls ----------------------------------------


def _served(cfg_work_dir: str, served: str | None) -> dict[str, str]:
    """Version folder -> tree digest of what `pulled_store` laid out; each file a hard link
    into the model cache the promotion checks also pull into (build/<env>/models)."""
    assert served == str(Path(cfg_work_dir) / "serving" / "store" / MODEL)
    cache = [p for p in (Path(cfg_work_dir) / "models").rglob("*") if p.is_file()]
    for path in Path(served).rglob("*"):
        if path.is_file():
            assert any(os.path.samefile(path, c) for c in cache), f"{path} is not linked"
    return {p.name: model_digest(p) for p in sorted(Path(served).iterdir())}


@pytest.mark.slow
def test_a_registry_release_is_pulled_into_a_folder_the_server_polls(
    registry_repo: Repo,
) -> None:
    repo = registry_repo
    first = repo.push()
    release = repo.delivery.promote_to("dev")
    assert isinstance(release, rel.Record)
    second = repo.push()
    cfg = repo.delivery.cfg("dev")
    store = open_store(cfg.model_store_dir)
    digest = {a.version: a.tree_digest for v in (first, second) if (a := store.resolve(v))}

    latest = serve_release.plan(repo.environments, cfg, None)  # no versions: the release
    assert (latest.versions, latest.record) == (None, release)
    interrupted = Path(cfg.work_dir) / "serving" / "store" / MODEL / f".{first}.partial"
    interrupted.mkdir(parents=True)  # what a pull cut short leaves: replaced, not in the way
    (interrupted / "saved_model.pb").write_bytes(b"half")
    served = serve_release.pulled_store(cfg, latest)
    assert _served(cfg.work_dir, served) == {str(first): release.current.digest}
    assert not interrupted.exists()
    assert serve_release.pulled_store(cfg, latest) == served  # again: kept, not re-copied

    asked = serve_release.plan(repo.environments, cfg, [second])
    served = serve_release.pulled_store(cfg, asked)
    assert _served(cfg.work_dir, served) == {str(first): digest[first], str(second): digest[second]}


@pytest.mark.slow
def test_without_a_release_the_newest_registry_version_is_pulled(registry_repo: Repo) -> None:
    repo = registry_repo
    cfg = repo.delivery.cfg("dev")
    store = open_store(cfg.model_store_dir)
    nothing = serve_release.ServePlan(None, None, "--version", None)
    with pytest.raises(MlopsError) as empty:
        serve_release.pulled_store(cfg, nothing)
    assert str(empty.value) == (
        f"no model version in {store.uri}: run `mlops run --env dev` first (it pushes "
        f"blessed models there)"
    )
    with pytest.raises(ArtifactMissing) as gone:
        serve_release.pulled_store(cfg, serve_release.ServePlan([5], None, "--version", None))
    assert str(gone.value) == f"--version 5: {store.uri} has no version 5 (it has: none)"
    repo.push()
    newest = repo.push()
    with pytest.raises(ArtifactMissing) as gone:
        serve_release.pulled_store(cfg, serve_release.ServePlan([5], None, "--version", None))
    assert str(gone.value) == (
        f"--version 5: {store.uri} has no version 5 (it has: {store.versions()})"
    )
    served = serve_release.pulled_store(cfg, nothing)
    pushed = store.resolve(newest)
    assert pushed is not None
    assert _served(cfg.work_dir, served) == {str(newest): pushed.tree_digest}
