"""Promotion past dev on a laptop: the committed configs, a clone whose origin is not GitHub.

dev keeps models in a folder (build/dev/model_store); staging and prod in
`oci://${MODEL_REGISTRY:-ghcr.io}/${GITHUB_REPOSITORY:-local/taxi-tips}/models`. With nothing
set, the registry store is GHCR under a placeholder namespace and every command says how to get a
registry; with MODEL_REGISTRY pointing at the local Distribution registry, dev -> staging -> prod
works end to end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core import config
from core.paths import REPO_ROOT
from core.verdicts import Verdict
from delivery.promotion import Delivery
from mlops import cli
from store import release as rel
from tests.support.project import SLUG
from tests.support.repo import copy_environments
from tests.support.servers import free_port
from tests.support.stores import MODEL, fake_model


class Laptop:
    """A copy of the repository's environments/ as committed, and dev's folder store."""

    def __init__(self, root: Path) -> None:
        self.environments = copy_environments(root)
        self.delivery = Delivery(self.environments)

    def cli(self, *args: str) -> int:
        return cli.main(["--environments", str(self.environments), *args])

    def push(self, version: int) -> int:
        """What a blessed `mlops run --env dev` leaves in build/dev/model_store."""
        store = Path(self.delivery.cfg("dev").model_store_dir)
        fake_model(store / str(version), version)
        return version

    def released_in_dev(self, version: int) -> rel.Release:
        """`make demo`'s end: pushed, promoted to dev, load test recorded as passed."""
        self.push(version)
        assert self.cli("promote", "--to", "dev") == 0
        return self.pass_loadtest("dev")

    def pass_loadtest(self, env: str) -> rel.Release:
        """What a passing `mlops loadtest --record` writes into `env`'s release record."""
        return self.delivery.record_loadtest(
            env, Verdict.PASS, "reports", p95_ms=9, p99_ms=12, rps=300, failure_ratio=0.0
        ).current

    def pass_analysis(self, env: str) -> rel.Release:
        """What a passing `mlops analyze --record` writes: staging's shadow judged it."""
        return self.delivery.record_analysis(
            env, Verdict.PASS, requests=900, error_ratio=0.0, p99_ms=12
        ).current


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Laptop:
    monkeypatch.setattr(config, "_origin_repository", lambda: "")  # origin is not on GitHub
    return Laptop(tmp_path / "clone")


def test_without_a_registry_promotion_says_how_to_start_one(
    laptop: Laptop, capsys: pytest.CaptureFixture
) -> None:
    dev = laptop.released_in_dev(1001)
    capsys.readouterr()
    assert laptop.cli("promote", "--from", "dev", "--to", "staging") == 2
    err = capsys.readouterr().err
    assert "environments/cloud.yaml: paths.model_store: staging's model store" in err
    assert "start a registry with `make registry` and `export MODEL_REGISTRY=127.0.0.1:5001`" in err
    assert "Traceback" not in err
    assert rel.read(laptop.environments, "staging") is None  # nothing written
    # status suggests the setup first, not a promote that cannot work here.
    assert laptop.cli("status") == 0
    out = capsys.readouterr().out
    assert (
        f"pending: {dev.short()} can be promoted dev -> staging, but not from here yet:\n"
        f"  staging's model store oci://ghcr.io/local/{SLUG}/models is GHCR under a placeholder "
        "namespace (GITHUB_REPOSITORY is unset and origin is not a GitHub remote); start a "
        "registry with `make registry` and `export MODEL_REGISTRY=127.0.0.1:5001`, then "
        "`mlops promote --from dev --to staging`"
    ) in out


def test_status_names_a_registry_that_does_not_answer(
    laptop: Laptop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    down = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MODEL_REGISTRY", down)
    laptop.released_in_dev(1001)
    capsys.readouterr()
    assert laptop.cli("status") == 0
    out = capsys.readouterr().out
    assert (
        f"can be promoted dev -> staging, but not from here yet:\n  staging's registry {down} "
        f"(paths.model_store) does not answer; start it with `make registry`, then "
        f"`mlops promote --from dev --to staging`"
    ) in out


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def make_registry(tmp_path: Path) -> Iterator[str]:
    """`make registry` as a person runs it (state in a temporary folder); its address."""
    port, root = free_port(), tmp_path / "registry"
    started = _make("registry", f"REGISTRY_PORT={port}", f"REGISTRY_ROOT={root}")
    assert started.returncode == 0, started.stdout + started.stderr
    assert f"export MODEL_REGISTRY=127.0.0.1:{port}" in started.stdout
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stopped = _make("registry-stop", f"REGISTRY_ROOT={root}")
        assert stopped.returncode == 0 and "Stopped the local registry" in stopped.stdout


def test_with_make_registry_a_release_goes_dev_staging_prod(
    laptop: Laptop,
    make_registry: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setenv("MODEL_REGISTRY", make_registry)
    laptop.push(1001)
    assert laptop.cli("promote", "--to", "dev") == 0
    capsys.readouterr()
    assert laptop.cli("status") == 0
    assert (
        "waits for a passing load test in dev before it can go to staging (now NONE); "
        "`make serve-loadtest-record ENV=dev` records one"
    ) in capsys.readouterr().out
    dev = laptop.pass_loadtest("dev")
    assert laptop.cli("status") == 0
    assert (
        "can be promoted dev -> staging (`mlops promote --from dev --to staging`)"
        in capsys.readouterr().out
    )
    assert laptop.cli("promote", "--from", "dev", "--to", "staging") == 0, capsys.readouterr()
    staging = rel.read(laptop.environments, "staging")
    assert staging is not None
    repository = f"{make_registry}/local/{SLUG}/models/{MODEL}"
    assert staging.current.uri.startswith(f"oci://{repository}@sha256:")
    assert (staging.current.version, staging.current.digest) == (dev.version, dev.digest)
    digest = staging.current.uri.partition("@")[2]
    assert _tag(repository, "staging") == _tag(repository, "1001") == digest

    laptop.pass_loadtest("staging")

    laptop.pass_analysis("staging")
    assert laptop.cli("promote", "--from", "staging", "--to", "prod") == 0
    prod = rel.read(laptop.environments, "prod")
    assert prod is not None and prod.current.uri == staging.current.uri  # one artifact, tagged
    assert _tag(repository, "prod") == digest
    capsys.readouterr()
    assert laptop.cli("status") == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:4]}
    assert [rows[env][1] for env in ("dev", "staging", "prod")] == ["1001"] * 3


def _tag(repository: str, tag: str) -> str:
    """The manifest digest a tag points at, as the registry itself answers."""
    host, _, name = repository.partition("/")
    response = requests.head(
        f"http://{host}/v2/{name}/manifests/{tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    assert response.status_code == 200, (tag, response.status_code)
    return response.headers["Docker-Content-Digest"]
