"""A model store with two versions of the sample-trained model, and servers over it.

Version 1 is the model `trained` (tests/conftest.py) exported; version 2 is the same network
with its output bias shifted, so every route can be checked against the in-process prediction
of exactly the version it should hit.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from components.model_store import publish_atomically
from serving import backends
from serving.client import RestClient
from tests.conftest import copy_environments, update_overlay

MODEL = "taxi_tips"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlops(*args: str, timeout: float = 600, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def second_version(trained, transform_run, tmp_path_factory) -> Path:
    from components.model import build_model
    from components.trainer import export

    hp = trained.hp
    model = build_model(hp.hidden_units, hp.learning_rate, hp.seed)
    for layer in model.layers:
        layer.set_weights(trained.model.get_layer(layer.name).get_weights())
    kernel, bias = model.get_layer("probability").get_weights()
    model.get_layer("probability").set_weights([kernel, bias + 1.0])
    out = tmp_path_factory.mktemp("v2") / "serving_model"
    export(model, transform_run.output, str(out))
    return out


@pytest.fixture(scope="session")
def predict_in_process(trained, second_version):
    """version -> function(examples) -> probabilities, straight from the SavedModels."""
    import tensorflow as tf

    fns = {}
    for version, path in ((1, trained.export_dir), (2, second_version)):
        loaded = tf.saved_model.load(str(path))
        fns[version] = (loaded, loaded.signatures["serving_default"])

    def predict(version: int, examples: list[bytes]) -> np.ndarray:
        return fns[version][1](examples=tf.constant(examples))["outputs"].numpy()

    return predict


@dataclass
class Served:
    backend: str
    environments: Path
    output: Path
    store: Path
    rest_url: str
    grpc_target: str
    batching: bool = False

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command, rest = args[0], args[1:]
        return mlops("--environments", str(self.environments), command, "--env", "dev",
                     "--output", str(self.output), *rest, timeout=timeout)


def make_environment(root: Path, **dev_updates) -> Path:
    """A copy of environments/ whose dev overlay takes `dev_updates` (deep-merged)."""
    target = copy_environments(root)
    update_overlay(target, "dev", dev_updates)
    return target


def start_server(root: Path, backend: str, versions: dict[int, Path],
                 **overlay_updates) -> Served:
    rest, grpc = free_port(), free_port()
    updates = {"serving": {"rest_port": rest, "grpc_port": grpc, "file_system_poll_seconds": 1,
                           "readiness_timeout_seconds": 180}}
    for key, value in overlay_updates.items():
        updates.setdefault(key, {}).update(value)
    environments = make_environment(root, **updates)
    output = root / "out"
    store = output / "model_store" / MODEL
    store.mkdir(parents=True)
    for number, src in versions.items():
        publish_atomically(src, store, number)
    batching = updates.get("serving", {}).get("batching", {}).get("enabled")
    if batching is None:
        from mlops import config

        batching = config.load("dev", environments).serving.batching.enabled
    served = Served(backend, environments, output, store, f"http://127.0.0.1:{rest}",
                    f"127.0.0.1:{grpc}", batching)
    result = served.cli("serve", "--backend", backend, "--detach", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return served


def stop_server(served: Served) -> None:
    served.cli("serve", "--stop", timeout=120)


SERVERS = [(b, "batching") for b in backends.available_backends()] + [("local", "no batching")]
# With batching on, requests wait up to 20 ms for company, so concurrent ones share a batch
# (contract_cases.yaml's batch-size cases assume max_batch_size 16).
BATCHING = {"enabled": True, "max_batch_size": 16, "batch_timeout_micros": 20000,
            "max_enqueued_batches": 100}


@pytest.fixture(scope="module", params=SERVERS, ids=[f"{b}-{m}".replace(" ", "-")
                                                     for b, m in SERVERS])
def served(request, tmp_path_factory, trained, second_version) -> Iterator[Served]:
    """Every backend this machine has, serving versions 1 and 2 under `latest {2}`; the
    stand-in also without server-side batching, so both of its request paths are covered."""
    backend, mode = request.param
    server = start_server(tmp_path_factory.mktemp(f"serve-{backend}"), backend,
                          {1: trained.export_dir, 2: second_version},
                          serving={"num_versions": 2,
                                   "batching": BATCHING if mode == "batching"
                                   else {"enabled": False}})
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def rest(served) -> RestClient:
    """A REST client once both versions are AVAILABLE (not just the first)."""
    client = RestClient(served.rest_url, MODEL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = {s["version"]: s["state"] for s in client.status()["model_version_status"]}
        if states.get("1") == states.get("2") == "AVAILABLE":
            break
        time.sleep(0.5)
    return client
