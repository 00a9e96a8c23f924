"""A throw-away repository layout (environments/ with each one's manifests and Argo CD
application) with model stores of each kind: local folders, or one repository in a real OCI
registry on loopback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from core.verdicts import Verdict
from delivery.promotion import Delivery
from store import release as rel
from store.model_store import open_store
from tests.support import project
from tests.support.repo import copy_environments, update_overlay

# The configured model name (environments/base model_name), whatever `mlops init` named it.
MODEL = project.MODEL


def fake_model(root: Path, seed: int) -> Path:
    """Bytes shaped like a SavedModel; promotion copies and hashes, it never loads them."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "saved_model.pb").write_bytes(b"graph-%d" % seed)
    (root / "variables").mkdir(exist_ok=True)
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(64))
    return root


def constant_saved_model(root: Path, probability: float = 0.5) -> Path:
    """A real, tiny SavedModel with the served signature (`examples` -> `outputs`): one constant
    probability per serialized example. TF Serving, the stand-in and the decay check load it."""
    import tensorflow as tf

    class Constant(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"outputs": tf.fill([tf.shape(examples)[0], 1], probability)}

    module = Constant()
    tf.saved_model.save(module, str(root), signatures={"serving_default": module.serve})
    return root


class Repo:
    def __init__(self, root: Path, store_uri: str = "") -> None:
        """`store_uri`: every environment shares this registry store; else a folder each."""
        self.root = root
        self.kind = "oci" if store_uri else "folder"
        self.environments = copy_environments(root)
        for env in ("dev", "staging", "prod"):
            update_overlay(
                self.environments, env, {"paths": {"model_store": store_uri or f"stores/{env}"}}
            )
        update_overlay(
            self.environments,
            "dev",
            {"paths": {"pipeline_root": "out/dev/pipeline", "metadata": "out/dev/metadata.sqlite"}},
        )
        self.delivery = Delivery(self.environments)
        self._next = 1000

    def store(self, env: str) -> Path:
        return self.root / "stores" / env / MODEL

    def current(self, env: str) -> rel.Release:
        """The release `env`'s record on disk names; a missing record fails the test here."""
        record = rel.read(self.environments, env)
        assert record is not None, f"{env} has no release record"
        return record.current

    def push(self) -> int:
        """What a blessed pipeline run does: a new version in dev's store."""
        self._next += 1
        model = fake_model(self.root / "tmp" / str(self._next), self._next)
        if self.kind == "oci":
            store = open_store(self.delivery.cfg("dev").model_store_dir)
            store.publish(model, self._next, {"mlops.template.model.name": MODEL})
            return self._next
        self.store("dev").mkdir(parents=True, exist_ok=True)
        shutil.copytree(model, self.store("dev") / str(self._next))
        return self._next

    def pass_loadtest(self, env: str, passed: bool = True):
        return self.delivery.record_loadtest(
            env,
            Verdict.PASS if passed else Verdict.FAIL,
            "reports",
            p95_ms=10,
            p99_ms=20,
            rps=100,
            failure_ratio=0.0,
        )

    def pass_analysis(self, env: str):
        """What a passing `mlops analyze --record` writes: staging's shadow (and any canary)
        must be judged before its release moves on (the analysis-passed rule)."""
        return self.delivery.record_analysis(
            env, Verdict.PASS, requests=900, error_ratio=0.0, p99_ms=20
        )
