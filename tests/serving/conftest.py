"""A model store with two versions of the sample-trained model, and servers over it.

Version 1 is the model `trained` (tests/conftest.py) exported; version 2 is the same network
with its output bias shifted, so every route can be checked against the in-process prediction
of exactly the version it should hit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from serving import backends
from serving.client import RestClient
from tests.support.servers import (
    BATCHING,
    MODEL,
    Served,
    needs,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def second_version(trained, transform_run, tmp_path_factory) -> Path:
    from models.model import build_model
    from models.trainer import export

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


SERVERS = [(b, "batching") for b in backends.available_backends()] + [("local", "no batching")]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((b, m), id=f"{b}-{m}".replace(" ", "-"), marks=needs(b)) for b, m in SERVERS
    ],
)
def served(request, tmp_path_factory, trained, second_version) -> Iterator[Served]:
    """Every backend this machine has, serving versions 1 and 2 under `latest {2}`; the
    stand-in also without server-side batching, so both of its request paths are covered."""
    backend, mode = request.param
    server = start_server(
        tmp_path_factory.mktemp(f"serve-{backend}"),
        backend,
        {1: trained.export_dir, 2: second_version},
        serving={
            "num_versions": 2,
            "batching": BATCHING if mode == "batching" else {"enabled": False},
        },
    )
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
