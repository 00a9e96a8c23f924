"""The release rules `mlops` composes, called directly: they live in delivery/, not the CLI.

The regression baseline of a run, the release a load-test verdict may describe, the versions a
local server loads, and `--ok-if-current` each decide something about a release; these tests
hold each decision to its rule without going through argument parsing.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from core.errors import ConfigError
from delivery import loadtest_record, serve_release
from delivery.baseline import released_baseline
from delivery.promotion import AlreadyCurrent, PromotionRefused
from mlops import cli
from serving.client import PredictionError
from serving.loadtest import LoadTestResult, SloCheck
from store import release as rel
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
    repo.delivery.promote_to("dev")
    shutil.rmtree(repo.store("dev") / str(version))
    with pytest.raises(PromotionRefused, match="cannot be read") as refused:
        released_baseline(repo.environments, repo.delivery.cfg("dev"))
    assert f"dev's release version {version}" in str(refused.value)
    assert "restore the artifact or roll back the record" in str(refused.value)


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
    with pytest.raises(PromotionRefused, match="source-released"):
        loadtest_record.check_serves_the_release(repo.environments, "dev", _Server(1))
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


# --- what a local server loads -----------------------------------------------------------------


def test_a_specific_policy_serves_the_release_the_record_names(any_repo: Repo) -> None:
    repo = any_repo
    update_overlay(repo.environments, "dev", {"serving": {"version_policy": "specific"}})
    first = repo.push()
    repo.delivery.promote_to("dev")
    repo.push()  # newer, not released
    cfg = repo.delivery.cfg("dev")
    chosen = serve_release.plan(repo.environments, cfg, None)
    assert (chosen.versions, chosen.labels) == ([first], {"stable": first})
    assert chosen.source.endswith("dev/release.yaml")
    asked = serve_release.plan(repo.environments, cfg, [first + 1])
    assert (asked.versions, asked.labels, asked.source) == ([first + 1], None, "--version")
    with pytest.raises(ConfigError, match=r"--version: version 999 is not in the model store"):
        serve_release.plan(repo.environments, cfg, [999])
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
    with pytest.raises(ConfigError, match=r"--release: dev has no release \(.*release.yaml does"):
        serve_release.plan(repo.environments, repo.delivery.cfg("dev"), None, release=True)
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
