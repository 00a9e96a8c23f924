"""The promotion steps held to their outcomes: every field of the record they write, what the
store holds and where its tags point, the exact words of a refusal, and that a refusal leaves
records, manifests and stores as they were.

`test_promotion.py` checks each rule once; these tests pin down what each step writes, so that
`make mutate` finds no change to `delivery/promotion.py` that a test would let through. The
registry tests cover what only a registry has: a tag per environment that moves only from the
release its record names, and models pulled into the environment's cache.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from core import config
from core.errors import ConfigError
from core.paths import REPO_ROOT
from core.verdicts import Rule, Verdict
from delivery import manifests
from delivery.promotion import Delivery, PromotionRefused, artifact_of
from store import release as rel
from store.model_store import model_digest
from tests.support.repo import update_overlay
from tests.support.stores import MODEL, Repo, fake_model
from tools.local_registry import Registry

REMOVED = object()  # a run-summary field left out


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """`rel.now()` as a counter, so each timestamp a step writes is known exactly."""
    stamps: list[str] = []

    def now() -> str:
        stamps.append(f"2030-01-01T00:00:{len(stamps):02d}+00:00")
        return stamps[-1]

    monkeypatch.setattr(rel, "now", now)
    return stamps


def _store_dir(repo: Repo, env: str) -> Path:
    return Path(repo.delivery.cfg(env).model_store_dir)


def _state(repo: Repo) -> dict[str, bytes]:
    """Every file under environments/ and the folder stores: what a refusal must not change."""
    files = {}
    for top in (repo.environments, repo.root / "stores"):
        for path in sorted(top.rglob("*")):
            if path.is_file():
                files[str(path.relative_to(repo.root))] = path.read_bytes()
    return files


def _manifests_follow_the_record(repo: Repo, env: str) -> None:
    """environments/<env>/manifests/ is what the environment's own config and record render."""
    cfg = config.load(env, repo.environments)
    expected = manifests.render_environment(cfg, rel.read(repo.environments, env))
    folder = repo.environments / env / "manifests"
    assert {p.name: p.read_text() for p in folder.iterdir()} == expected


def _run_summary(repo: Repo, version: int, **fields: object) -> Path:
    """A run summary naming a model pushed outside dev's store, as `mlops run --output` does."""
    model = fake_model(repo.root / "run" / "pushed" / str(version), version)
    summary: dict[str, object] = {
        "pushed": True,
        "pushed_path": str(model),
        "pushed_version": version,
        "model_digest": model_digest(model),
    }
    for key, value in fields.items():
        if value is REMOVED:
            del summary[key]
        else:
            summary[key] = value
    path = repo.root / "run" / f"run_summary-{version}.json"
    path.write_text(json.dumps(summary))
    return path


def _tag(registry: Registry, repo: Repo, tag: str) -> str | None:
    """The manifest digest `tag` points at, as skopeo sees it; None without that tag."""
    name = repo.delivery.cfg("dev").model_store_dir.split("/", 3)[3].lower()
    if tag not in registry.tags(name):
        return None
    return registry.raw_manifest(f"{registry.host}/{name}:{tag}")[1]


def _promote(repo: Repo, target: str, source: str | None = None, **options: Any) -> rel.Record:
    """`mlops promote`'s entry point; these tests expect a written record, not AlreadyCurrent."""
    outcome = repo.delivery.promote_to(target, source, **options)
    assert isinstance(outcome, rel.Record), outcome
    return outcome


def _record(repo: Repo, env: str) -> rel.Record:
    record = rel.read(repo.environments, env)
    assert record is not None, f"{env} has no release record"
    return record


def _manifest_digest(release: rel.Release) -> str:
    return release.uri.rpartition("@")[2]


# --- dev from the pipeline -----------------------------------------------------------------------


def test_devs_release_names_every_field_of_the_run_summary(
    repo: Repo, clock: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    summary = _run_summary(
        repo,
        7,
        source_commit="abc123",
        pipeline_run="run-42",
        overall={"metrics": {"auc": 0.81234567, "accuracy": 1, "loss": None}},
        spans=[1, 2],
        data_root=str(repo.root / "data"),
        run_url="https://github.com/acme/taxi/actions/runs/42",
    )
    record = _promote(repo, "dev", expect_version=7, summary_file=summary)
    digest = model_digest(repo.root / "run" / "pushed" / "7")
    expected = rel.Release(
        model_name=MODEL,
        version=7,
        digest=digest,
        uri=str(_store_dir(repo, "dev") / "7"),  # copied into dev's store, and named there
        git_commit="abc123",
        pipeline_run="run-42",
        promoted_from="pipeline",
        promoted_at=clock[-1],
        promoted_by="alice",
        metrics={"auc": 0.812346, "accuracy": 1.0},  # rounded; an undefined metric left out
        loadtest=rel.LoadTest(),
        spans=[1, 2],
        data_root=str(repo.root / "data"),
        report="https://github.com/acme/taxi/actions/runs/42",  # the run's report
    )
    assert record == rel.Record("dev", expected, [])
    assert rel.read(repo.environments, "dev") == record
    assert model_digest(_store_dir(repo, "dev") / "7") == digest
    _manifests_follow_the_record(repo, "dev")


def test_what_a_run_summary_leaves_out_is_recorded_empty(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_SOURCE_COMMIT", "f00dfeed")
    current = _promote(repo, "dev", summary_file=_run_summary(repo, 7)).current
    assert (current.git_commit, current.pipeline_run, current.metrics) == ("f00dfeed", "", {})
    assert (current.spans, current.data_root, current.report) == ([], "", "")


@pytest.mark.parametrize(
    "broken",
    [
        {"pushed": False},
        {"pushed": REMOVED},
        {"pushed_path": ""},
        {"pushed_path": REMOVED},
        {"pushed_version": "v7"},
        {"pushed_version": REMOVED},
    ],
)
def test_a_run_summary_without_a_pushed_model_is_refused(repo: Repo, broken: dict) -> None:
    path = _run_summary(repo, 7, **broken)
    before = _state(repo)
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "dev", summary_file=path)
    assert str(refused.value) == (
        f"refused (pipeline-output): {path} names no pushed model (the run did not bless or "
        f"push one)"
    )
    assert refused.value.rule == Rule.PIPELINE_OUTPUT
    assert _state(repo) == before


def test_the_summary_on_disk_counts_only_for_the_version_it_pushed(repo: Repo) -> None:
    """Without --summary, the run summary beside the pipeline root describes the newest model
    only if it names that version."""
    summary = repo.root / "out" / "dev" / "run_summary.json"
    summary.parent.mkdir(parents=True)
    first = repo.push()
    digest = model_digest(repo.store("dev") / str(first))
    summary.write_text(
        json.dumps({"pushed_version": first, "model_digest": digest, "pipeline_run": "run-1"})
    )
    current = _promote(repo, "dev").current
    assert (current.version, current.digest, current.pipeline_run) == (first, digest, "run-1")
    second = repo.push()  # the summary on disk is still the first run's
    current = _promote(repo, "dev").current
    assert (current.version, current.pipeline_run) == (second, "")
    third = repo.push()  # a summary without a digest is taken at its version's word
    summary.write_text(json.dumps({"pushed_version": third, "pipeline_run": "run-3"}))
    current = _promote(repo, "dev").current
    assert (current.version, current.pipeline_run) == (third, "run-3")


def test_a_model_changed_after_its_run_pushed_it_is_refused(repo: Repo) -> None:
    version = repo.push()
    summary = repo.root / "out" / "dev" / "run_summary.json"
    summary.parent.mkdir(parents=True)
    recorded = "sha256:" + "0" * 64
    summary.write_text(json.dumps({"pushed_version": version, "model_digest": recorded}))
    model = _store_dir(repo, "dev") / str(version)
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "dev")
    assert str(refused.value) == (
        f"refused (digest-matches): {model} has digest {model_digest(model)} but the run "
        f"that pushed it recorded {recorded}: the model changed after the push; re-run the "
        f"pipeline"
    )
    assert rel.read(repo.environments, "dev") is None


def test_an_unreadable_run_summary_and_an_empty_store_are_named(repo: Repo) -> None:
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "dev")
    assert str(refused.value) == (
        f"refused (pipeline-output): no pushed model in {_store_dir(repo, 'dev')}: run "
        f"`mlops run --env dev` (it pushes only blessed models)"
    )
    repo.push()
    summary = repo.root / "out" / "dev" / "run_summary.json"
    summary.parent.mkdir(parents=True)
    summary.write_text("{not json")
    with pytest.raises(ConfigError) as bad:
        _promote(repo, "dev")
    assert str(bad.value).startswith(f"--summary: {summary} is not a run summary: Expecting")
    with pytest.raises(ConfigError) as misplaced:
        _promote(repo, "staging", "dev", summary_file=summary)
    assert str(misplaced.value) == (
        "--summary: only with a promotion from the pipeline (no --from); other environments "
        "take their source's release"
    )
    assert rel.read(repo.environments, "dev") is None


def test_only_the_approved_version_moves(repo: Repo) -> None:
    version = repo.push()
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "dev", expect_version=version + 1)
    assert str(refused.value) == (
        f"refused (expected-version): the pipeline's candidate is version {version}, not the "
        f"approved version {version + 1}; re-run the approval with the version `mlops "
        f"status` shows"
    )
    assert rel.read(repo.environments, "dev") is None
    assert _promote(repo, "dev", expect_version=version).current.version == version
    repo.pass_loadtest("dev")
    before = _state(repo)
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "staging", "dev", expect_version=version - 1)
    assert str(refused.value) == (
        f"refused (expected-version): dev's release is version {version}, not the approved "
        f"version {version - 1}; re-run the approval with the version `mlops status` shows"
    )
    assert _state(repo) == before
    assert _promote(repo, "staging", "dev", expect_version=version).current.version


def test_a_run_relocated_by_output_moves_only_devs_store(repo: Repo) -> None:
    """`mlops run --output DIR`: dev's candidate is in DIR, named by the config of the folder
    given (here its own model name); staging's store stays where it is."""
    update_overlay(repo.environments, "dev", {"model_name": "tips_laptop"})
    out = repo.root / "elsewhere"
    fake_model(out / "model_store" / "tips_laptop" / "5", 5)
    relocated = Delivery(repo.environments, output_root=str(out))
    dev = relocated.promote_from_pipeline("dev").current
    assert (dev.model_name, dev.uri) == (
        "tips_laptop",
        str(out / "model_store" / "tips_laptop" / "5"),
    )
    repo.pass_loadtest("dev")
    staging = relocated.promote("dev", "staging").current
    assert staging.uri == str(_store_dir(repo, "staging") / "5")
    assert (repo.store("staging") / "5" / "saved_model.pb").read_bytes() == b"graph-5"


def test_a_record_inside_the_repository_works_from_any_directory(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store inside the repository is recorded repository-relative (no machine's path in a
    committed record) and found again from another working directory."""
    inside = REPO_ROOT / "build" / "test-promotion-steps" / tmp_path.name
    try:
        update_overlay(repo.environments, "dev", {"paths": {"model_store": str(inside)}})
        fake_model(inside / MODEL / "3", 3)
        monkeypatch.chdir(tmp_path)
        dev = _promote(repo, "dev").current
        relative = str((inside / MODEL / "3").relative_to(REPO_ROOT))
        assert dev.uri == relative
        repo.pass_loadtest("dev")
        staging = _promote(repo, "staging", "dev").current
        assert model_digest(staging.uri) == dev.digest
    finally:
        shutil.rmtree(inside, ignore_errors=True)


# --- from one environment to the next ------------------------------------------------------------


def test_staging_takes_devs_release_as_it_is_with_its_own_promotion_fields(
    repo: Repo, clock: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    summary = _run_summary(
        repo, 7, source_commit="abc123", pipeline_run="run-42", spans=[2], data_root="gs://b/d"
    )
    _promote(repo, "dev", summary_file=summary)
    repo.pass_loadtest("dev")
    dev = repo.current("dev")
    dev_file = (repo.environments / "dev" / "release.yaml").read_bytes()
    monkeypatch.setenv("GITHUB_ACTOR", "bob")
    record = _promote(repo, "staging", "dev")
    first = dataclasses.replace(
        dev,
        uri=str(_store_dir(repo, "staging") / "7"),
        promoted_from="dev",
        promoted_at=clock[-1],
        promoted_by="bob",
        loadtest=rel.LoadTest(),  # not load-tested in staging yet
    )
    assert clock[-1] not in (dev.promoted_at, dev.loadtest.at)
    assert record == rel.Record("staging", first, [])
    assert rel.read(repo.environments, "staging") == record
    assert model_digest(repo.store("staging") / "7") == dev.digest
    assert (repo.environments / "dev" / "release.yaml").read_bytes() == dev_file
    _manifests_follow_the_record(repo, "staging")

    _promote(repo, "dev", summary_file=_run_summary(repo, 8))
    repo.pass_loadtest("dev")
    second = _promote(repo, "staging", "dev")
    assert (second.current.version, second.history) == (8, [first])
    assert rel.read(repo.environments, "staging") == second
    assert repo.current("dev").version == 8 and _record(repo, "dev").history[0] == dev
    assert sorted(p.name for p in repo.store("staging").iterdir()) == ["7", "8"]


def test_a_refused_promotion_changes_nothing(repo: Repo) -> None:
    """Each rule refuses before the first write: records, manifests and stores stay."""
    version = repo.push()
    _promote(repo, "dev")
    before = _state(repo)
    with pytest.raises(PromotionRefused, match=r"refused \(load-test-passed\)"):
        _promote(repo, "staging", "dev")
    assert _state(repo) == before
    repo.pass_loadtest("dev")
    _promote(repo, "staging", "dev")
    before = _state(repo)
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "staging", "dev")
    assert str(refused.value) == (
        f"refused (not-already-there): staging already runs "
        f"{repo.current('dev').short()}; nothing to promote"
    )
    assert str(version) in str(refused.value)
    assert _state(repo) == before


def test_a_version_the_target_store_holds_with_other_bytes_is_refused(repo: Repo) -> None:
    version = repo.push()
    _promote(repo, "dev")
    repo.pass_loadtest("dev")
    impostor = fake_model(repo.store("staging") / str(version), version)
    before = _state(repo)
    with pytest.raises(PromotionRefused) as refused:
        _promote(repo, "staging", "dev")
    assert str(refused.value) == (
        f"refused (digest-matches): {_store_dir(repo, 'staging') / str(version)} already holds "
        f"a different model (digest {model_digest(impostor)}, expected "
        f"{repo.current('dev').digest}); versions are immutable, so remove it or investigate"
    )
    assert _state(repo) == before


def test_manifests_that_cannot_render_stop_the_promotion_before_the_store(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = repo.push()
    _promote(repo, "dev")
    repo.pass_loadtest("dev")
    render = manifests.render_environment

    def broken(cfg: config.EnvironmentConfig, record: rel.Record | None) -> dict[str, str]:
        if record is not None and cfg.name == "staging":
            raise ConfigError("infra/templates/deployment.yaml.j2: cannot render")
        return render(cfg, record)

    monkeypatch.setattr(manifests, "render_environment", broken)
    before = _state(repo)
    with pytest.raises(ConfigError, match="cannot render"):
        _promote(repo, "staging", "dev")
    assert _state(repo) == before
    assert not (repo.store("staging") / str(version)).exists()


def test_an_environment_only_this_folder_has_is_promoted_with_its_own_config(repo: Repo) -> None:
    """The steps read the environments folder they were given, never the repository's own."""
    qa = repo.environments / "qa"
    qa.mkdir()
    shutil.copy(repo.environments / "staging" / "config.yaml", qa / "config.yaml")
    update_overlay(
        repo.environments,
        "qa",
        {
            "pipeline_name": "taxi-tips-qa",
            "paths": {"model_store": "stores/qa"},
            "deploy": {"namespace": "taxi-tips-qa"},
        },
    )
    version = repo.push()
    _promote(repo, "dev")
    repo.pass_loadtest("dev")
    assert repo.delivery.order() == ["dev", "qa", "staging", "prod"]
    record = _promote(repo, "qa", "dev")
    assert record.current.uri == str(_store_dir(repo, "qa") / str(version))
    _manifests_follow_the_record(repo, "qa")


# --- a pull request, then sync --------------------------------------------------------------------


def test_a_deferred_promotion_writes_the_record_and_leaves_the_store_until_sync(
    repo: Repo,
) -> None:
    assert repo.delivery.sync("staging") is None  # no record, nothing to sync
    version = repo.push()
    _promote(repo, "dev")
    repo.pass_loadtest("dev")
    dev = repo.current("dev")
    record = _promote(repo, "staging", "dev", defer_store=True)
    assert record.current.uri == dev.uri  # the source's artifact, until the merge
    assert rel.read(repo.environments, "staging") == record
    assert not repo.store("staging").exists()
    _manifests_follow_the_record(repo, "staging")

    synced = repo.delivery.sync("staging")
    in_store = str(_store_dir(repo, "staging") / str(version))
    assert synced == rel.Record("staging", dataclasses.replace(record.current, uri=in_store), [])
    assert rel.read(repo.environments, "staging") == synced
    assert model_digest(in_store) == dev.digest
    _manifests_follow_the_record(repo, "staging")

    path = repo.environments / "staging" / "release.yaml"
    written = path.stat().st_ino
    assert repo.delivery.sync("staging") == synced  # in sync: nothing is rewritten
    assert path.stat().st_ino == written


# --- rollback -----------------------------------------------------------------------------------


def test_rollback_without_a_previous_release_is_refused_and_changes_nothing(repo: Repo) -> None:
    message = "refused (previous-release): dev has no previous release to roll back to"
    with pytest.raises(PromotionRefused) as refused:
        repo.delivery.rollback("dev")
    assert str(refused.value) == message
    assert rel.read(repo.environments, "dev") is None
    repo.push()
    _promote(repo, "dev")
    before = _state(repo)
    with pytest.raises(PromotionRefused) as refused:
        repo.delivery.rollback("dev")
    assert str(refused.value) == message
    assert _state(repo) == before


def test_rollback_restores_the_previous_release_and_keeps_the_older_ones(repo: Repo) -> None:
    releases = []
    for _ in range(4):
        repo.push()
        _promote(repo, "dev")
        repo.pass_loadtest("dev")
        releases.append(repo.current("dev"))
    stores = {k: v for k, v in _state(repo).items() if k.startswith("stores")}
    rolled = repo.delivery.rollback("dev")
    assert rolled.current == releases[2]  # exactly as it was, its load test included
    assert rel.read(repo.environments, "dev") == rolled
    # The older releases stay, newest first (the rolled-back one may be kept among them).
    older = [r for r in rolled.history if r.version != releases[3].version]
    assert older == [releases[1], releases[0]]
    assert {k: v for k, v in _state(repo).items() if k.startswith("stores")} == stores
    _manifests_follow_the_record(repo, "dev")


# --- load-test verdicts ---------------------------------------------------------------------------


def test_a_load_test_is_recorded_rounded_with_its_time_and_report(
    repo: Repo, clock: list[str]
) -> None:
    before = _state(repo)
    with pytest.raises(PromotionRefused) as refused:
        repo.pass_loadtest("dev")
    assert str(refused.value) == (
        "refused (source-released): dev has no release to attach a load test to; promote to "
        "dev first"
    )
    assert _state(repo) == before
    repo.push()
    _promote(repo, "dev")
    repo.pass_loadtest("dev")
    release = repo.current("dev")
    history = _record(repo, "dev").history
    record = repo.delivery.record_loadtest(
        "dev",
        Verdict.FAIL,
        str(REPO_ROOT / "build" / "loadtest" / "dev"),
        p95_ms=12.3456789,
        p99_ms=45.6789012,
        rps=123.4567891,
        failure_ratio=0.0123456789,
    )
    measured = rel.LoadTest(
        Verdict.FAIL, clock[-1], "build/loadtest/dev", 12.346, 45.679, 123.457, 0.012346
    )
    assert record == rel.Record("dev", dataclasses.replace(release, loadtest=measured), history)
    assert rel.read(repo.environments, "dev") == record
    _manifests_follow_the_record(repo, "dev")


# --- verify ---------------------------------------------------------------------------------------


def test_verify_returns_the_checked_model_and_names_the_release_it_refuses(repo: Repo) -> None:
    version = repo.push()
    release = _promote(repo, "dev").current
    artifact = artifact_of(release)
    assert repo.delivery.verify("dev", artifact) == Path(artifact.ref)
    weights = Path(artifact.ref) / "variables" / "variables.data-00000-of-00001"
    weights.write_bytes(b"tampered")
    after = f"(dev's release, version {version}). Do not promote it; run the pipeline and "
    after += "promote a fresh release"
    with pytest.raises(PromotionRefused) as refused:
        repo.delivery.verify("dev", artifact)
    assert refused.value.rule == Rule.DIGEST_MATCHES
    assert str(refused.value) == (
        f"refused (digest-matches): the model at {artifact.ref} has digest "
        f"{model_digest(artifact.ref)}, but the record says {release.digest}: it changed after "
        f"it was released (tampering or a broken copy) {after}"
    )
    shutil.rmtree(artifact.ref)
    with pytest.raises(PromotionRefused) as refused:
        repo.delivery.verify("dev", artifact)
    assert refused.value.rule == Rule.ARTIFACT_EXISTS
    assert str(refused.value) == (
        f"refused (artifact-exists): {artifact.ref} holds no SavedModel (version {version} is "
        f"missing from {_store_dir(repo, 'dev')}) {after}"
    )


# --- a registry: tags and pulls ---------------------------------------------------------------


@pytest.mark.slow
def test_a_registry_tag_moves_only_from_the_release_its_record_names(
    registry_repo: Repo, registry: Registry
) -> None:
    repo = registry_repo
    repo.push()
    first = _promote(repo, "dev").current
    assert _tag(registry, repo, "dev") == _manifest_digest(first)
    version = repo.push()
    second = _promote(repo, "dev").current
    assert _tag(registry, repo, "dev") == _manifest_digest(second)
    assert _tag(registry, repo, str(version)) == _manifest_digest(second)
    rolled = repo.delivery.rollback("dev")
    assert rolled.current == first
    assert _tag(registry, repo, "dev") == _manifest_digest(first)
    repo.pass_loadtest("dev")
    staging = _promote(repo, "staging", "dev").current
    assert staging.uri == first.uri  # the same artifact, one more tag
    assert _tag(registry, repo, "staging") == _manifest_digest(first)


@pytest.mark.slow
def test_a_registry_tag_waits_for_sync_after_a_deferred_promotion(
    registry_repo: Repo, registry: Registry
) -> None:
    repo = registry_repo
    for _ in range(2):
        repo.push()
        dev = _promote(repo, "dev").current
        repo.pass_loadtest("dev")
        tagged = _tag(registry, repo, "staging")
        record = _promote(repo, "staging", "dev", defer_store=True)
        assert record.current.uri == dev.uri
        assert _tag(registry, repo, "staging") == tagged  # an open pull request moves no tag
        synced = repo.delivery.sync("staging")
        assert synced is not None and synced.current.uri == dev.uri
        assert _tag(registry, repo, "staging") == _manifest_digest(dev)


@pytest.mark.slow
def test_a_deferred_rollback_moves_no_tag_until_sync(
    registry_repo: Repo, registry: Registry
) -> None:
    """A prod rollback in codeowners mode is a pull request: its tag waits for the merge."""
    repo = registry_repo
    repo.push()
    first = _promote(repo, "dev").current
    repo.push()
    second = _promote(repo, "dev").current
    rolled = repo.delivery.rollback("dev", defer_store=True)
    assert rolled.current == first and rel.read(repo.environments, "dev") == rolled
    assert _tag(registry, repo, "dev") == _manifest_digest(second)  # not moved yet
    synced = repo.delivery.sync("dev")
    assert synced is not None and synced.current.uri == first.uri
    assert _tag(registry, repo, "dev") == _manifest_digest(first)


@pytest.mark.slow
def test_verify_pulls_a_registry_artifact_into_the_environments_model_cache(
    registry_repo: Repo,
) -> None:
    repo = registry_repo
    repo.push()
    release = _promote(repo, "dev").current
    pulled = repo.delivery.verify("staging", artifact_of(release))
    assert pulled.is_relative_to(Path(repo.delivery.cfg("staging").work_dir) / "models")
    assert model_digest(pulled) == release.digest
