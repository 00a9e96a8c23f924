"""Models in a real OCI registry (CNCF Distribution on loopback), checked with skopeo.

What is in the registry must be what the records say: one artifact per version, tags per
environment on the same digest, byte-for-byte copies across registries, and every refusal
leaving records and tags exactly as they were.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import requests
import yaml

from core.errors import InfraError
from delivery.promotion import PromotionRefused
from mlops import cli
from store import release as rel
from store.model_store import Artifact, DigestMismatch, model_digest, open_store
from store.oci import ARTIFACT_TYPE, LAYER_MEDIA_TYPE, TREE_DIGEST
from tests.support.repo import update_overlay
from tests.support.stores import MODEL, Repo, fake_model
from tools.local_registry import Registry


@pytest.fixture
def oci(registry: Registry, tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo", registry.store_uri(f"acme/{tmp_path.name.lower()}"))


def _repository(repo: Repo) -> str:
    return repo.delivery.cfg("dev").model_store_dir.split("/", 3)[3].lower()


def _snapshot(repo: Repo, registry: Registry) -> tuple[dict, dict]:
    """Every record's bytes and every tag's digest: what a refusal must leave untouched."""
    records = {
        env: (repo.environments / env / "release.yaml").read_bytes()
        for env in ("dev", "staging", "prod")
        if (repo.environments / env / "release.yaml").exists()
    }
    name = _repository(repo)
    tags = {
        tag: registry.raw_manifest(f"{registry.host}/{name}:{tag}")[1]
        for tag in registry.tags(name)
    }
    return records, tags


def _through_prod(repo: Repo) -> rel.Release:
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("staging")
    repo.pass_analysis("staging")
    return repo.delivery.promote("staging", "prod").current


@pytest.mark.slow
def test_the_record_names_the_artifact_skopeo_sees(oci: Repo, registry: Registry) -> None:
    version = oci.push()
    release = oci.delivery.promote_from_pipeline("dev").current
    name, _, digest = release.uri.removeprefix("oci://").partition("@")
    manifest, seen = registry.raw_manifest(f"{name}@{digest}")
    assert seen == digest  # the manifest digest the record stores is the registry's
    assert manifest["artifactType"] == ARTIFACT_TYPE
    assert manifest["annotations"][TREE_DIGEST] == release.digest
    assert manifest["annotations"]["mlops.template.model.version"] == str(version)
    assert [layer["mediaType"] for layer in manifest["layers"]] == [LAYER_MEDIA_TYPE]
    assert manifest["layers"][0]["annotations"]["org.opencontainers.image.title"] == str(version)
    # The environment's tag and the version tag point at the same digest.
    assert registry.raw_manifest(f"{name}:dev")[1] == digest
    assert registry.raw_manifest(f"{name}:{version}")[1] == digest
    # Pulled back, the files hash to the record's tree digest.
    pulled = oci.delivery.verify("dev", oci.delivery.candidate("dev")[0])
    assert model_digest(pulled) == release.digest


@pytest.mark.slow
def test_promotion_moves_tags_never_the_bytes(oci: Repo, registry: Registry) -> None:
    prod = _through_prod(oci)
    records = {env: oci.current(env) for env in ("dev", "staging")}
    digests = {r.uri.partition("@")[2] for r in [prod, *records.values()]}
    assert len(digests) == 1  # one artifact, three environments
    name = _repository(oci)
    assert {
        registry.raw_manifest(f"{registry.host}/{name}:{env}")[1]
        for env in ("dev", "staging", "prod")
    } == digests
    # Roll dev back: its tag moves back to the first artifact, exactly.
    first_dev = records["dev"]
    oci.push()
    oci.delivery.promote_from_pipeline("dev")
    assert registry.raw_manifest(f"{registry.host}/{name}:dev")[1] not in digests
    rolled = oci.delivery.rollback("dev").current
    assert rolled.uri == first_dev.uri
    assert registry.raw_manifest(f"{registry.host}/{name}:dev")[1] in digests


@pytest.mark.slow
def test_a_copy_to_another_registry_keeps_the_digest(registry: Registry, tmp_path: Path) -> None:
    other = Registry(tmp_path / "other-registry")
    try:
        repo = Repo(tmp_path / "repo", registry.store_uri("acme/copy"))
        update_overlay(
            repo.environments,
            "staging",
            {"paths": {"model_store": other.store_uri("mirror/models")}},
        )
        repo.push()
        dev = repo.delivery.promote_from_pipeline("dev").current
        repo.pass_loadtest("dev")
        staging = repo.delivery.promote("dev", "staging").current
        digest = dev.uri.partition("@")[2]
        assert staging.uri == f"oci://{other.host}/mirror/models/{MODEL}@{digest}"
        assert other.raw_manifest(f"{other.host}/mirror/models/{MODEL}:staging")[1] == digest
    finally:
        other.stop()


@pytest.mark.slow
def test_a_folder_version_is_published_into_a_registry_store(
    registry: Registry, tmp_path: Path
) -> None:
    """A laptop's dev keeps a folder store; staging's registry takes the same files, checked."""
    model = fake_model(tmp_path / "build" / MODEL / "7", 7)
    tree = model_digest(model)
    store = open_store(registry.store_uri(f"laptop/{tmp_path.name.lower()}") + f"/{MODEL}")
    adopted = store.adopt(Artifact(7, tree, str(model)), "staging", None)
    name, _, digest = adopted.ref.removeprefix("oci://").partition("@")
    assert (adopted.version, adopted.tree_digest) == (7, tree)
    assert registry.raw_manifest(f"{name}:staging")[1] == digest
    assert registry.raw_manifest(f"{name}:7")[1] == digest
    assert model_digest(store.materialize(adopted, tmp_path / "cache")) == tree
    # Files changed since their digest was recorded: refused, and no tag moves.
    (model / "saved_model.pb").write_bytes(b"tampered")
    with pytest.raises(DigestMismatch, match=r"the model at .*/7"):
        store.adopt(Artifact(7, tree, str(model)), "prod", None)
    assert registry.tags(name.split("/", 1)[1]) == ["7", "staging"]


@pytest.mark.slow
def test_a_tag_moved_outside_promote_is_refused(oci: Repo, registry: Registry) -> None:
    _through_prod(oci)
    intruder = oci.push()  # another artifact in the same repository
    name = _repository(oci)
    body = requests.get(
        f"http://{registry.host}/v2/{name}/manifests/{intruder}",
        timeout=10,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    requests.put(
        f"http://{registry.host}/v2/{name}/manifests/prod",
        data=body.content,
        timeout=10,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ).raise_for_status()
    oci.push()  # the next candidate, which goes through the rules to staging
    oci.delivery.promote_from_pipeline("dev")
    oci.pass_loadtest("dev")
    oci.delivery.promote("dev", "staging")
    oci.pass_loadtest("staging")
    oci.pass_analysis("staging")
    before = _snapshot(oci, registry)
    with pytest.raises(
        PromotionRefused,
        match=r"refused \(tag-matches\): tag .*:prod points "
        r"at sha256:.*, but prod's release record says",
    ):
        oci.delivery.promote("staging", "prod")
    assert _snapshot(oci, registry) == before


def _edit_record(repo: Repo, env: str, **changes: str) -> None:
    path = repo.environments / env / "release.yaml"
    data = yaml.safe_load(path.read_text())
    data["current"].update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    "fault, rule",
    [
        ("tree", "digest-matches"),  # the record's tree sha256 differs from the artifact's
        ("missing", "artifact-exists"),  # a manifest digest that was never pushed
        ("blob", "digest-matches"),  # the layer's bytes altered inside the registry
    ],
)
@pytest.mark.slow
def test_a_broken_artifact_is_refused_and_nothing_moves(
    oci: Repo, registry: Registry, fault: str, rule: str
) -> None:
    oci.push()
    dev = oci.delivery.promote_from_pipeline("dev").current
    oci.pass_loadtest("dev")
    if fault == "tree":
        _edit_record(oci, "dev", digest="sha256:" + "0" * 64)
    elif fault == "missing":
        _edit_record(oci, "dev", uri=dev.uri.partition("@")[0] + "@sha256:" + "1" * 64)
    else:
        manifest, _ = registry.raw_manifest(dev.uri.removeprefix("oci://"))
        layer = manifest["layers"][0]["digest"].removeprefix("sha256:")
        blob = registry.root / "data/docker/registry/v2/blobs/sha256" / layer[:2] / layer / "data"
        blob.write_bytes(blob.read_bytes()[:-8] + b"tampered")
        shutil.rmtree(oci.delivery.cache_dir("dev"), ignore_errors=True)
    before = _snapshot(oci, registry)
    with pytest.raises(PromotionRefused, match=rf"refused \({rule}\)"):
        oci.delivery.promote("dev", "staging")
    assert _snapshot(oci, registry) == before


@pytest.mark.slow
def test_an_unreachable_registry_is_an_infrastructure_error(
    oci: Repo, registry: Registry, capsys
) -> None:
    oci.push()
    oci.delivery.promote_from_pipeline("dev")
    oci.pass_loadtest("dev")
    down = "oci://127.0.0.1:9/acme/down/models"  # nothing listens on the discard port
    update_overlay(oci.environments, "staging", {"paths": {"model_store": down}})
    before = _snapshot(oci, registry)
    code = cli.main(
        ["--environments", str(oci.environments), "promote", "--from", "dev", "--to", "staging"]
    )
    err = capsys.readouterr().err
    assert code == InfraError.exit_code == 3
    assert "cannot reach the model registry 127.0.0.1:9" in err and "paths.model_store" in err
    assert "Traceback" not in err
    assert _snapshot(oci, registry) == before


SECRET = "s3cret-token-4242"


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory):
    reg = Registry(tmp_path_factory.mktemp("private"), users={"bot": SECRET})
    yield reg
    reg.stop()


@pytest.mark.parametrize("user, password", [(None, None), ("bot", "wrong-password")])
@pytest.mark.slow
def test_missing_or_wrong_credentials_say_what_to_set(
    private: Registry, tmp_path: Path, monkeypatch, capsys, user, password
):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    if user:
        monkeypatch.setenv("MODEL_REGISTRY_USERNAME", user)
        monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", password)
    store = open_store(private.store_uri("acme/private") + f"/{MODEL}")
    with pytest.raises(InfraError) as caught:
        store.publish(fake_model(tmp_path / "m", 1), 1, {})
    message = str(caught.value)
    assert f"registry {private.host} refused access" in message
    assert "MODEL_REGISTRY_USERNAME" in message and "docker login" in message
    assert "packages: write" in message
    assert SECRET not in message and (password or SECRET) not in message


@pytest.mark.parametrize("source", ["env", "docker-config"])
@pytest.mark.slow
def test_credentials_from_the_environment_or_the_docker_config(
    private: Registry, tmp_path: Path, monkeypatch, source: str
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    if source == "env":
        monkeypatch.setenv("MODEL_REGISTRY_USERNAME", "bot")
        monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", SECRET)
    else:
        import base64

        (tmp_path / "docker").mkdir()
        auth = base64.b64encode(f"bot:{SECRET}".encode()).decode()
        (tmp_path / "docker" / "config.json").write_text(
            json.dumps({"auths": {private.host: {"auth": auth}}})
        )
    store = open_store(private.store_uri(f"acme/{source}") + f"/{MODEL}")
    artifact = store.publish(fake_model(tmp_path / "m", 7), 7, {})
    assert store.versions() == [7]
    assert (
        private.skopeo(
            "inspect",
            "--raw",
            f"docker://{private.host}/acme/{source}/{MODEL}:7",
            creds=f"bot:{SECRET}",
        ).returncode
        == 0
    )
    assert model_digest(store.materialize(artifact, tmp_path / "cache")) == artifact.tree_digest


@pytest.mark.slow
def test_the_token_never_reaches_the_output(
    private: Registry, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A CLI failure against a private registry prints the registry and the fix, not the token."""
    repo = Repo(tmp_path / "repo", private.store_uri("acme/leak"))
    monkeypatch.setenv("MODEL_REGISTRY_USERNAME", "bot")
    monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", SECRET + "-wrong")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "none"))
    code = cli.main(["--environments", str(repo.environments), "promote", "--to", "dev"])
    out = capsys.readouterr()
    assert code == 3
    assert SECRET not in out.out + out.err
    assert os.environ["MODEL_REGISTRY_PASSWORD"] not in out.out + out.err


@pytest.mark.slow
def test_a_promotion_pull_request_moves_no_tag_until_it_merges(
    oci: Repo, registry: Registry
) -> None:
    """`promote --defer-store` (the PR) leaves the registry alone; `sync` (after the merge)
    moves the tag, and only from the previous release."""
    name = _repository(oci)

    def tag() -> str | None:
        tags = registry.tags(name)
        return (
            registry.raw_manifest(f"{registry.host}/{name}:staging")[1]
            if "staging" in tags
            else None
        )

    def synced() -> str:
        """`sync` after the merge; the artifact staging's record names now."""
        record = oci.delivery.sync("staging")
        assert record is not None, "staging has no release record to sync"
        return record.current.uri

    def candidate_to_staging_pr() -> str:
        oci.push()
        dev = oci.delivery.promote_from_pipeline("dev").current
        oci.pass_loadtest("dev")
        before = tag()
        oci.delivery.promote("dev", "staging", defer_store=True)
        assert tag() == before  # an open pull request changes nothing in the registry
        return dev.uri.partition("@")[2]

    first = candidate_to_staging_pr()
    assert tag() is None
    assert synced().endswith(first)
    assert tag() == first
    second = candidate_to_staging_pr()
    assert synced().endswith(second)
    assert tag() == second
    assert synced().endswith(second)  # idempotent
    # A tag moved by hand while the next pull request is open is refused at sync.
    intruder = oci.push()
    body = requests.get(
        f"http://{registry.host}/v2/{name}/manifests/{intruder}",
        timeout=10,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    requests.put(
        f"http://{registry.host}/v2/{name}/manifests/staging",
        data=body.content,
        timeout=10,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    ).raise_for_status()
    candidate_to_staging_pr()
    before = _snapshot(oci, registry)
    with pytest.raises(PromotionRefused, match=r"refused \(tag-matches\): tag .*:staging"):
        oci.delivery.sync("staging")
    assert _snapshot(oci, registry) == before
