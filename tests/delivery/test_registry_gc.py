"""`mlops gc` on a real registry with deletes enabled: what a release record or a tag names stays,
the newest candidates stay, the rest is deleted by digest; a release made while gc runs keeps its
version; and a token that may only pull cannot delete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from delivery import retention
from mlops import cli
from store.model_store import open_store
from store.oci import OciStore
from tests.support.repo import update_overlay
from tests.support.stores import Repo
from tests.support.token_registry import TokenRegistry
from tools.local_registry import Registry

KEEP = 2


def _repository(repo: Repo) -> str:
    return repo.delivery.cfg("dev").model_store_dir.split("/", 3)[3].lower()


def _release(repo: Repo, env: str, version: int) -> None:
    """Make `version` dev's release, as cd-dev does from a run summary naming it."""
    store = open_store(repo.delivery.cfg(env).model_store_dir)
    artifact = store.resolve(version)
    assert artifact is not None
    summary = repo.root / f"summary-{version}.json"
    summary.write_text(
        json.dumps(
            {
                "pushed": True,
                "pushed_path": artifact.ref,
                "pushed_version": version,
                "model_digest": artifact.tree_digest,
            }
        )
    )
    repo.delivery.promote_from_pipeline(env, summary_file=summary)


def _populated(repo: Repo, registry_host: str) -> dict[int, str]:
    """1001 everywhere (prod), 1002 only in dev's history, 1003 dev's release, 1004 tagged `qa`,
    1005-1008 unreleased; every version's manifest digest."""
    for env in ("dev", "staging", "prod"):
        update_overlay(repo.environments, env, {"retention": {"keep_candidates": KEEP}})
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("staging")
    repo.pass_analysis("staging")
    repo.delivery.promote("staging", "prod")
    for _ in range(2):
        repo.push()
        repo.delivery.promote_from_pipeline("dev")
    for _ in range(5):
        repo.push()
    store = open_store(repo.delivery.cfg("dev").model_store_dir)
    assert isinstance(store, OciStore)
    digests = {v: store.tag_digest(str(v)) or "" for v in store.versions()}
    name = _repository(repo)
    url = f"http://{registry_host}/v2/{name}/manifests"
    accept = {"Accept": "application/vnd.oci.image.manifest.v1+json"}
    body = requests.get(f"{url}/{digests[1004]}", headers=accept, timeout=10).content
    put = requests.put(
        f"{url}/qa",
        data=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    assert put.status_code == 201, put.text
    return digests


@pytest.fixture
def gc_repo(registry: Registry, tmp_path: Path) -> tuple[Repo, dict[int, str]]:
    repo = Repo(tmp_path / "repo", registry.store_uri(f"gc/{tmp_path.name}".lower()))
    return repo, _populated(repo, registry.host)


def _gc(repo: Repo, *extra: str) -> int:
    return cli.main(["--environments", str(repo.environments), "gc", "--env", "dev", *extra])


@pytest.mark.slow
def test_the_dry_run_lists_and_deletes_nothing(gc_repo, registry: Registry, capsys) -> None:
    repo, _ = gc_repo
    before = registry.tags(_repository(repo))
    assert _gc(repo) == 0
    out = capsys.readouterr().out
    assert registry.tags(_repository(repo)) == before
    assert "6 versions kept, 2 unneeded" in out
    assert "unneeded version 1006" in out and "unneeded version 1005" in out
    assert "keep    version 1001" in out and "keep    version 1002" in out
    assert "in dev's history" in out and "tagged qa" in out
    assert "retention.keep_candidates" in out
    assert "--apply" in out


@pytest.mark.slow
def test_apply_deletes_only_what_nothing_names(gc_repo, registry: Registry, capsys) -> None:
    repo, digests = gc_repo
    assert _gc(repo, "--apply") == 0
    assert "Deleted 2 versions" in capsys.readouterr().out
    name = _repository(repo)
    tags = set(registry.tags(name))
    assert tags == {"1001", "1002", "1003", "1004", "1007", "1008", "dev", "staging", "prod", "qa"}
    for version in (1005, 1006):  # gone by digest, not only untagged
        gone = registry.skopeo(
            "inspect", "--raw", f"docker://{registry.host}/{name}@{digests[version]}"
        )
        assert gone.returncode != 0
    for env in ("dev", "staging", "prod"):  # every release still pulls, digest verified
        release = repo.current(env)
        store = open_store(repo.delivery.cfg(env).model_store_dir)
        artifact = store.resolve(release.version)
        assert artifact is not None
        store.materialize(artifact, repo.root / "pulled" / env)
    assert _gc(repo, "--apply") == 0  # nothing left to delete
    assert "Deleted 0 versions" in capsys.readouterr().out


@pytest.mark.slow
def test_a_release_made_while_gc_runs_keeps_its_version(
    gc_repo, registry: Registry, monkeypatch
) -> None:
    """Between the listing and the deletes, dev releases a version gc had found unneeded: it
    is spared, and the other still goes."""
    repo, digests = gc_repo
    store = retention.registry_store(
        repo.delivery.store("dev"), "dev", repo.delivery.cfg("dev").paths.model_store
    )
    plan = retention.plan(repo.environments, store, KEEP)
    assert [e.version for e in plan.delete] == [1006, 1005]
    _release(repo, "dev", 1006)  # after the listing, before any delete
    outcome = retention.apply(repo.environments, plan)
    assert [(e.version, e.reason) for e in outcome.spared] == [(1006, "now dev's release")]
    assert [e.version for e in outcome.deleted] == [1005]
    tags = registry.tags(_repository(repo))
    assert "1006" in tags and "1005" not in tags
    assert registry.raw_manifest(f"{registry.host}/{_repository(repo)}:dev")[1] == digests[1006]


@pytest.mark.slow
def test_a_release_between_two_deletes_is_spared(gc_repo, registry: Registry, monkeypatch) -> None:
    repo, digests = gc_repo
    store = retention.registry_store(
        repo.delivery.store("dev"), "dev", repo.delivery.cfg("dev").paths.model_store
    )
    plan = retention.plan(repo.environments, store, KEEP)
    real_delete = type(store).delete
    deleted: list[str] = []

    def delete_then_release(self, digest: str) -> bool:
        done = real_delete(self, digest)
        deleted.append(digest)
        if len(deleted) == 1:
            _release(repo, "dev", 1005)  # a release lands while gc is deleting
        return done

    monkeypatch.setattr(type(store), "delete", delete_then_release)
    outcome = retention.apply(repo.environments, plan)
    assert deleted == [digests[1006]]
    assert [(e.version, e.reason) for e in outcome.deleted] == [(1006, "unreleased candidate")]
    assert [(e.version, e.reason) for e in outcome.spared] == [(1005, "now dev's release")]
    assert "1005" in registry.tags(_repository(repo))
    assert "1006" not in registry.tags(_repository(repo))


def test_a_folder_store_is_refused_with_exit_2(repo: Repo, capsys) -> None:
    code = cli.main(["--environments", str(repo.environments), "gc", "--env", "dev"])
    err = capsys.readouterr().err
    assert code == 2
    assert "paths.model_store" in err and "not a registry" in err and "Traceback" not in err


@pytest.mark.slow
def test_deleting_needs_packages_write(tmp_path: Path, monkeypatch, capsys) -> None:
    """Behind GHCR's token flow: a `packages: read` token lists but cannot delete (exit 3,
    naming `packages: write`); a `packages: write` token deletes."""
    ghcr = TokenRegistry(tmp_path / "ghcr")
    try:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
        monkeypatch.setenv("MODEL_REGISTRY_USERNAME", "x-access-token")
        monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", ghcr.tokens.issue("write", "acme"))
        repo = Repo(tmp_path / "repo", ghcr.store_uri("acme/gc"))
        update_overlay(repo.environments, "dev", {"retention": {"keep_candidates": 0}})
        first, second = repo.push(), repo.push()
        monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", ghcr.tokens.issue("read", "acme"))
        assert _gc(repo) == 0  # the dry run only reads
        assert _gc(repo, "--apply") == 3
        err = capsys.readouterr().err
        assert "to delete" in err and "`permissions: packages: write`" in err
        monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", ghcr.tokens.issue("write", "acme"))
        assert _gc(repo, "--apply") == 0
        assert open_store(repo.delivery.cfg("dev").model_store_dir).versions() == []
        assert (first, second) == (1001, 1002)
    finally:
        ghcr.stop()
