"""Promotion past dev on a laptop: the committed configs, a clone whose origin is not GitHub.

dev keeps models in a folder (build/dev/model_store); staging and prod in
`oci://${MODEL_REGISTRY:-ghcr.io}/${GITHUB_REPOSITORY:-local/taxi-tips}/models`. With nothing
set, the registry store is GHCR under a placeholder namespace and every command says how to get a
registry; with MODEL_REGISTRY pointing at the local Distribution registry, dev -> staging -> prod
works end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core import config
from core.verdicts import Verdict
from delivery.promotion import Delivery
from mlops import cli
from store import release as rel
from tests.support.repo import copy_environments
from tests.support.stores import fake_model


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
        self.delivery.record_loadtest(
            "dev", Verdict.PASS, "reports", p95_ms=9, p99_ms=12, rps=300, failure_ratio=0.0
        )
        record = rel.read(self.environments, "dev")
        assert record is not None
        return record.current


@pytest.fixture
def laptop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Laptop:
    monkeypatch.setattr(config, "_origin_repository", lambda: "")  # origin is not on GitHub
    return Laptop(tmp_path / "clone")


def test_without_a_registry_promotion_says_how_to_start_one(
    laptop: Laptop, capsys: pytest.CaptureFixture
) -> None:
    laptop.released_in_dev(1001)
    capsys.readouterr()
    assert laptop.cli("promote", "--from", "dev", "--to", "staging") == 2
    err = capsys.readouterr().err
    assert "environments/cloud.yaml: paths.model_store: staging's model store" in err
    assert "start a registry with `make registry` and `export MODEL_REGISTRY=127.0.0.1:5001`" in err
    assert "Traceback" not in err
    assert rel.read(laptop.environments, "staging") is None  # nothing written
