"""A private package behind GHCR's authentication flow: 401 + `WWW-Authenticate: Bearer`, a token
endpoint taking basic auth (user + token), scoped JWTs the registry verifies (tests/support/
token_registry.py). Every refusal exits 3 and names the setting that fixes it, and the token
never shows up in what the CLI prints or writes.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.errors import InfraError
from mlops import cli
from store.model_store import open_store
from tests.support.stores import MODEL, Repo, fake_model
from tests.support.token_registry import TokenRegistry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ghcr(tmp_path_factory: pytest.TempPathFactory):
    reg = TokenRegistry(tmp_path_factory.mktemp("ghcr"))
    yield reg
    reg.stop()


@pytest.fixture
def as_job(monkeypatch, tmp_path: Path):
    """Run as a job holding `secret` (None: no credentials at all)."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)

    def use(secret: str | None) -> None:
        if secret is None:
            monkeypatch.delenv("MODEL_REGISTRY_USERNAME", raising=False)
            monkeypatch.delenv("MODEL_REGISTRY_PASSWORD", raising=False)
        else:
            monkeypatch.setenv("MODEL_REGISTRY_USERNAME", "x-access-token")
            monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", secret)

    return use


def _challenge(url: str) -> tuple[int, str]:
    try:
        urllib.request.urlopen(url, timeout=5)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("WWW-Authenticate", "")
    return 200, ""


@pytest.mark.slow
def test_the_registry_challenges_as_ghcr_does(ghcr: TokenRegistry) -> None:
    status, challenge = _challenge(f"http://{ghcr.host}/v2/acme/taxi/models/{MODEL}/tags/list")
    assert status == 401
    assert challenge.startswith(f'Bearer realm="{ghcr.tokens.realm}"')
    assert 'service="replay-ghcr"' in challenge
    assert f'scope="repository:acme/taxi/models/{MODEL}:pull"' in challenge


@pytest.mark.slow
def test_the_first_publish_creates_a_private_package(
    ghcr: TokenRegistry, as_job, tmp_path: Path
) -> None:
    """`packages: write` publishes a package that did not exist; only a token can read it."""
    repository = f"acme/first/{MODEL}"
    assert ghcr.registry.tags(repository) == []  # it does not exist yet
    writer = ghcr.tokens.issue("write", "acme")
    as_job(writer)
    store = open_store(ghcr.store_uri("acme/first") + f"/{MODEL}")
    artifact = store.publish(fake_model(tmp_path / "m", 3), 3, {})
    assert store.versions() == [3]
    seen = ghcr.registry.skopeo(
        "inspect", "--raw", f"docker://{ghcr.host}/{repository}:3", creds=f"x:{writer}"
    )
    assert seen.returncode == 0, seen.stderr
    assert "sha256:" + hashlib.sha256(seen.stdout.encode()).hexdigest() == (
        artifact.manifest_digest
    )
    anonymous = ghcr.registry.skopeo("inspect", "--raw", f"docker://{ghcr.host}/{repository}:3")
    assert anonymous.returncode != 0


@pytest.mark.slow
def test_a_pull_without_credentials_names_packages_read_and_the_pull_secret(
    ghcr: TokenRegistry, as_job, tmp_path: Path
) -> None:
    as_job(ghcr.tokens.issue("write", "acme"))
    uri = ghcr.store_uri("acme/pull") + f"/{MODEL}"
    artifact = open_store(uri).publish(fake_model(tmp_path / "m", 5), 5, {})
    as_job(None)
    store = open_store(uri)
    with pytest.raises(InfraError) as caught:
        store.materialize(artifact, tmp_path / "cache")
    message = str(caught.value)
    assert caught.value.exit_code == 3
    assert f"refused access to acme/pull/{MODEL} (HTTP 401) to pull" in message
    assert "no credentials were found" in message
    assert "packages: read" in message and "GITHUB_TOKEN" in message
    assert '"Manage Actions access"' in message
    assert "image pull secret" in message


@pytest.mark.slow
def test_a_token_for_another_owner_is_refused_naming_manage_actions_access(
    ghcr: TokenRegistry, as_job, tmp_path: Path
) -> None:
    """A token of a repository the package does not let in: GHCR grants it nothing there."""
    as_job(ghcr.tokens.issue("write", "acme"))
    uri = ghcr.store_uri("acme/other") + f"/{MODEL}"
    open_store(uri).publish(fake_model(tmp_path / "m", 6), 6, {})
    as_job(ghcr.tokens.issue("read", "someone-else"))
    with pytest.raises(InfraError) as caught:
        open_store(uri).resolve(6)
    assert "the credentials came from MODEL_REGISTRY_USERNAME" in str(caught.value)
    assert '"Manage Actions access"' in str(caught.value)


@pytest.mark.slow
def test_a_push_with_a_pull_only_token_exits_3_naming_packages_write(
    ghcr: TokenRegistry, as_job, tmp_path: Path, capsys
) -> None:
    """The pipeline (write) published a candidate; a `packages: read` job cannot tag it."""
    repo = Repo(tmp_path / "repo", ghcr.store_uri("acme/readonly"))
    as_job(ghcr.tokens.issue("write", "acme"))
    version = repo.push()
    reader = ghcr.tokens.issue("read", "acme")
    as_job(reader)
    assert open_store(repo.delivery.cfg("dev").model_store_dir).versions() == [version]  # reads
    code = cli.main(["--environments", str(repo.environments), "promote", "--to", "dev"])
    out = capsys.readouterr()
    assert code == InfraError.exit_code == 3, out.err
    assert "to push" in out.err and "`permissions: packages: write`" in out.err
    assert '"Manage Actions access"' in out.err and "Write role" in out.err
    assert "Traceback" not in out.err
    assert reader not in out.out + out.err
    assert not (repo.environments / "dev" / "release.yaml").exists()
    assert "dev" not in ghcr.registry.tags(f"acme/readonly/{MODEL}")


@pytest.mark.slow
def test_the_token_never_appears_in_output_logs_or_records(
    ghcr: TokenRegistry, tmp_path: Path
) -> None:
    """A release made and a refusal met through the CLI, in a child process as a workflow step
    runs it: the secret is in none of stdout, stderr, the registry's log or any written file."""
    repo = Repo(tmp_path / "repo", ghcr.store_uri("acme/quiet"))
    writer = ghcr.tokens.issue("write", "acme")
    reader = ghcr.tokens.issue("read", "acme")
    env_base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DOCKER_CONFIG": str(tmp_path / "none"),
        "MODEL_REGISTRY_USERNAME": "x-access-token",
        "PYTHONPATH": str(ROOT),
    }
    env_writer = {**env_base, "MODEL_REGISTRY_PASSWORD": writer}
    env_reader = {**env_base, "MODEL_REGISTRY_PASSWORD": reader}
    # The pipeline's publish, as the `train` job's step would, then two CLI runs.
    publish = (
        "import sys; from pathlib import Path; from store.model_store import open_store; "
        "from tests.support.stores import fake_model; "
        "open_store(sys.argv[1]).publish(fake_model(Path(sys.argv[2]), 9), 9, {})"
    )
    store_uri = repo.delivery.cfg("dev").model_store_dir
    runs = [
        subprocess.run(
            [sys.executable, "-c", publish, store_uri, str(tmp_path / "m")],
            env=env_writer,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    ]
    command = [sys.executable, "-m", "mlops", "--environments", str(repo.environments)]
    runs.append(
        subprocess.run(
            [*command, "promote", "--to", "dev"],
            env=env_reader,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    )
    runs.append(
        subprocess.run(
            [*command, "promote", "--to", "dev"],
            env=env_writer,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    )
    assert [r.returncode for r in runs] == [0, 3, 0], [r.stderr for r in runs]
    assert (repo.environments / "dev" / "release.yaml").is_file()
    printed = "".join(r.stdout + r.stderr for r in runs)
    written = [
        p.read_bytes()
        for root in (tmp_path, ghcr.registry.root)
        for p in root.rglob("*")
        if p.is_file()
    ]
    for secret in (writer, reader):
        assert secret not in printed
        assert not any(secret.encode() in data for data in written)
        assert secret not in repr(ghcr.tokens.requests)
