"""Promotion rules, one by one, through the same functions `mlops promote` calls."""

from __future__ import annotations

import os

import pytest
import yaml

from core.verdicts import Rule, Verdict
from delivery.promotion import PromotionRefused
from store import release as rel
from store.model_store import model_digest
from tests.support.stores import Repo


def _promote_through_staging(repo: Repo) -> int:
    version = repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    return version


def test_dev_takes_the_newest_pushed_model_with_its_digest(repo: Repo) -> None:
    repo.push()
    newest = repo.push()
    record = repo.delivery.promote_from_pipeline("dev")
    current = record.current
    assert current.version == newest and current.promoted_from == "pipeline"
    assert current.digest == model_digest(repo.store("dev") / str(newest))
    assert current.loadtest.verdict == Verdict.NONE and current.git_commit
    assert repo.current("dev") == current
    assert (repo.environments / "dev" / "manifests" / "deployment.yaml").exists()


def test_staging_gets_the_same_artifact_only_after_devs_load_test_passed(repo: Repo) -> None:
    version = repo.push()
    repo.delivery.promote_from_pipeline("dev")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(load-test-passed\): dev's release "
        r"version \d+ .* has load-test verdict NONE",
    ):
        repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("dev", passed=False)
    with pytest.raises(PromotionRefused, match="verdict FAIL"):
        repo.delivery.promote("dev", "staging")
    assert rel.read(repo.environments, "staging") is None  # refusals write nothing
    repo.pass_loadtest("dev")
    staging = repo.delivery.promote("dev", "staging").current
    dev = repo.current("dev")
    assert (staging.version, staging.digest) == (dev.version, dev.digest) == (version, dev.digest)
    assert model_digest(repo.store("staging") / str(version)) == dev.digest
    assert staging.promoted_from == "dev" and staging.loadtest.verdict == Verdict.NONE
    assert staging.git_commit == dev.git_commit and staging.metrics == dev.metrics


@pytest.mark.parametrize("verdict", [Verdict.FAIL, Verdict.INCONCLUSIVE])
def test_prod_refuses_a_release_whose_staging_shadow_failed(repo: Repo, verdict: str) -> None:
    """staging runs a shadow (rollout.strategy): its recorded analysis gates prod, and the
    verdict stays with the environment that judged it."""
    _promote_through_staging(repo)
    repo.pass_loadtest("staging")
    repo.delivery.record_analysis("staging", verdict, requests=10, error_ratio=0.5, p99_ms=9)
    with pytest.raises(
        PromotionRefused,
        match=rf"refused \(analysis-passed\): staging's release version \d+ .* has shadow "
        rf"analysis verdict {verdict};",
    ):
        repo.delivery.promote("staging", "prod")
    assert rel.read(repo.environments, "prod") is None
    repo.delivery.record_analysis("staging", Verdict.PASS, requests=900, error_ratio=0, p99_ms=9)
    prod = repo.delivery.promote("staging", "prod").current
    assert prod.analysis == rel.Analysis() and prod.loadtest == rel.LoadTest()
    staging = repo.current("staging").analysis
    assert (staging.verdict, staging.strategy, staging.requests) == (Verdict.PASS, "shadow", 900)


def test_prod_refuses_a_release_staging_never_analysed(repo: Repo) -> None:
    """A shadow nobody measured is no pass: prod waits for a recorded analysis, and the stored
    verdict names the very release it judged."""
    _promote_through_staging(repo)
    repo.pass_loadtest("staging")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(analysis-passed\): staging's release version \d+ .* has no "
        r"recorded shadow analysis; run `mlops analyze --env staging --prometheus URL "
        r"--record`",
    ):
        repo.delivery.promote("staging", "prod")
    assert rel.read(repo.environments, "prod") is None
    judged = repo.pass_analysis("staging").current
    assert (judged.analysis.version, judged.analysis.digest) == (judged.version, judged.digest)
    assert repo.current("staging").analysis == judged.analysis  # on disk, as recorded
    assert repo.delivery.promote("staging", "prod").current.digest == judged.digest


def test_strategy_none_in_git_is_the_one_way_to_skip_the_analysis(repo: Repo) -> None:
    _promote_through_staging(repo)
    repo.pass_loadtest("staging")
    path = repo.environments / "staging" / "config.yaml"
    data = yaml.safe_load(path.read_text())
    data["rollout"] = {"strategy": "none"}
    path.write_text(yaml.safe_dump(data))
    prod = repo.delivery.promote("staging", "prod").current
    assert prod.analysis == rel.Analysis() and repo.current("staging").analysis == rel.Analysis()


def test_stages_are_not_skipped(any_repo: Repo) -> None:
    repo = any_repo
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(stage-order\): prod takes releases "
        r"only from staging",
    ):
        repo.delivery.promote("dev", "prod")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(stage-order\): prod takes releases "
        r"from staging",
    ):
        repo.delivery.promote_from_pipeline("prod")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(source-released\): staging has no "
        r"release yet",
    ):
        repo.delivery.promote("staging", "prod")


def test_a_tampered_artifact_is_not_promoted(repo: Repo) -> None:
    version = repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    weights = repo.store("dev") / str(version) / "variables" / "variables.data-00000-of-00001"
    weights.write_bytes(b"tampered")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(digest-matches\): the model at .* "
        r"has digest .*, but the record says "
        r".*\(dev's release",
    ):
        repo.delivery.promote("dev", "staging")
    assert not (repo.store("staging") / str(version)).exists()


def test_promoting_what_already_runs_is_refused(any_repo: Repo) -> None:
    repo = any_repo
    _promote_through_staging(repo)
    repo.pass_loadtest("staging")
    repo.pass_analysis("staging")
    repo.delivery.promote("staging", "prod")
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(not-already-there\): prod already "
        r"runs version",
    ):
        repo.delivery.promote("staging", "prod")
    with pytest.raises(PromotionRefused, match=Rule.NOT_ALREADY_THERE):
        repo.delivery.promote_from_pipeline("dev")


def test_rollback_restores_the_previous_release_exactly(any_repo: Repo) -> None:
    repo = any_repo
    with pytest.raises(PromotionRefused, match=r"refused \(previous-release\)"):
        repo.delivery.rollback("dev")
    repo.push()
    first = repo.delivery.promote_from_pipeline("dev").current
    repo.pass_loadtest("dev")
    first = repo.current("dev")
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    rolled = repo.delivery.rollback("dev")
    assert rolled.current == first
    assert repo.current("dev") == first
    deployment = (repo.environments / "dev" / "manifests" / "deployment.yaml").read_text()
    assert f'mlops.template/model-version: "{first.version}"' in deployment


def test_a_crash_while_writing_leaves_the_old_record_whole(any_repo: Repo, monkeypatch) -> None:
    repo = any_repo
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    path = repo.environments / "dev" / "release.yaml"
    before = path.read_text()

    def crash(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    repo.push()
    with pytest.raises(OSError, match="disk full"):
        repo.delivery.promote_from_pipeline("dev")
    assert path.read_text() == before
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".release")] == []


def test_a_hand_broken_record_is_named(any_repo: Repo) -> None:
    repo = any_repo
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    path = repo.environments / "dev" / "release.yaml"
    data = yaml.safe_load(path.read_text())
    data["current"]["digest"] = "md5:abc"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        Exception,
        match=r"release.yaml: current: digest must start with "
        r"'sha256:', got 'md5:abc'",
    ):
        rel.read(repo.environments, "dev")


def test_record_paths_inside_the_repository_are_relative() -> None:
    from core.paths import REPO_ROOT
    from core.uris import repo_relative

    inside = REPO_ROOT / "build" / "dev" / "model_store" / "taxi_tips" / "7"
    assert repo_relative(str(inside)) == "build/dev/model_store/taxi_tips/7"
    assert repo_relative("gs://bucket/m/7") == "gs://bucket/m/7"


def test_an_unusable_bucket_store_is_an_infrastructure_error(repo: Repo, capsys) -> None:
    """Not a gate verdict: exit 3, naming the config key and value; nothing written."""
    from mlops import cli
    from tests.support.repo import update_overlay

    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    update_overlay(
        repo.environments, "staging", {"paths": {"model_store": "s3://no-such-scheme-here/models"}}
    )
    code = cli.main(
        ["--environments", str(repo.environments), "promote", "--from", "dev", "--to", "staging"]
    )
    err = capsys.readouterr().err
    assert code == 3, err
    assert "paths.model_store" in err and "s3://no-such-scheme-here/models" in err
    assert "unexpected failure" not in err and "Traceback" not in err
    assert rel.read(repo.environments, "staging") is None


def test_a_rollback_keeps_the_rolled_back_release_on_record(any_repo: Repo) -> None:
    """The release taken out of service stays in history, marked, and the history behind it is
    kept whole; a second rollback goes further back, never to the release just rolled back."""
    repo = any_repo
    versions = []
    for _ in range(3):
        versions.append(repo.push())
        repo.delivery.promote_from_pipeline("dev")
    before = rel.read(repo.environments, "dev")
    assert before is not None
    assert [r.version for r in before.history] == [versions[1], versions[0]]

    repo.delivery.rollback("dev")
    after = rel.read(repo.environments, "dev")
    assert after is not None
    assert after.current == before.history[0]
    assert [r.version for r in after.history] == [versions[2], versions[0]]
    left = after.history[0]
    assert left.rolled_back_at and left.rolled_back_by
    assert (left.digest, left.uri, left.promoted_at) == (
        before.current.digest,
        before.current.uri,
        before.current.promoted_at,
    )
    assert after.history[1] == before.history[1]
    text = (repo.environments / "dev" / "release.yaml").read_text()
    assert text.count("rolled_back_at:") == 1  # only on the release that was rolled back

    repo.delivery.rollback("dev")
    again = rel.read(repo.environments, "dev")
    assert again is not None
    assert again.current == before.history[1]
    assert [r.version for r in again.history] == [versions[1], versions[2]]
    assert all(r.rolled_back_at for r in again.history)
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(previous-release\): dev has no previous release to roll back to "
        r"\(every earlier release .* was rolled back\)",
    ):
        repo.delivery.rollback("dev")
