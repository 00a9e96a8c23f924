"""A throw-away repository layout (environments/, infra/argocd/) with local model stores."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from delivery.promotion import Delivery
from tests.conftest import copy_environments, update_overlay

MODEL = "taxi_tips"


def fake_model(root: Path, seed: int) -> Path:
    """Bytes shaped like a SavedModel; promotion copies and hashes, it never loads them."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "saved_model.pb").write_bytes(b"graph-%d" % seed)
    (root / "variables").mkdir(exist_ok=True)
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(64))
    return root


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.environments = copy_environments(root)
        for env in ("dev", "staging", "prod"):
            update_overlay(self.environments, env, {"paths": {"model_store": f"stores/{env}"}})
        update_overlay(self.environments, "dev", {"paths": {
            "pipeline_root": "out/dev/pipeline", "metadata": "out/dev/metadata.sqlite"}})
        self.delivery = Delivery(self.environments)
        self._next = 1000

    def store(self, env: str) -> Path:
        return self.root / "stores" / env / MODEL

    def push(self) -> int:
        """What a blessed pipeline run does: a new version in dev's store."""
        self._next += 1
        fake_model(self.root / "tmp" / str(self._next), self._next)
        self.store("dev").mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.root / "tmp" / str(self._next),
                        self.store("dev") / str(self._next))
        return self._next

    def pass_loadtest(self, env: str, passed: bool = True):
        return self.delivery.record_loadtest(env, "PASS" if passed else "FAIL", "reports",
                                             p95_ms=10, p99_ms=20, rps=100,
                                             failure_ratio=0.0)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")
