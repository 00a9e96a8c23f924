"""The stand-in's batch queue keeps upstream's limits: what a request meets when batches fill up.

A tiny stand-in model (doubles its input, refuses negative numbers) behind the real REST handler,
so each rule is checked as the HTTP answer a client gets, without training a model.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer

from serving.standin.batching import Batcher
from serving.standin.model_manager import AVAILABLE, InvalidArgument, ModelManager
from serving.standin.server import Metrics, StandInServer


class Doubler:
    """A Version-like model: y = 2 * x; a negative x is the model's InvalidArgument."""

    number = 1
    state = AVAILABLE

    def __init__(self) -> None:
        from tensorflow.core.protobuf import meta_graph_pb2

        sig = meta_graph_pb2.SignatureDef()
        sig.inputs["x"].dtype = 1  # DT_FLOAT
        sig.outputs["y"].dtype = 1
        self.signature_defs = {"serving_default": sig}
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[int] = []

    def predict(self, signature: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        self.calls.append(len(x))
        self.gate.wait(10)
        if (x < 0).any():
            raise InvalidArgument(f"negative input in a batch of {len(x)}")
        return {"y": x * 2}


class OneModel:
    def __init__(self, version: Doubler) -> None:
        self.version = version

    def resolve(self, name: str, version: Any = None, label: Any = None) -> Doubler:
        return self.version


def run(scenario: Any, *, batch_timeout_micros: int = 0) -> Any:
    """Run `scenario(client, model, metrics)` against a stand-in REST app with a Batcher."""

    async def main() -> Any:
        executor = ThreadPoolExecutor(4)
        model, metrics = Doubler(), Metrics()
        batcher = Batcher(
            executor,
            observe=metrics.batch,
            max_batch_size=4,
            batch_timeout_micros=batch_timeout_micros,
            num_batch_threads=1,
            max_enqueued_batches=2,
        )
        server = StandInServer(
            cast(ModelManager, OneModel(model)),  # the HTTP layer only calls resolve()
            executor,
            monitoring_path="/metrics",
            max_request_bytes=1 << 20,
            batcher=batcher,
            metrics=metrics,
        )
        async with TestClient(TestServer(server.app())) as client:
            try:
                return await scenario(client, model, metrics)
            finally:
                model.gate.set()
                batcher.close()
                executor.shutdown(wait=False)

    return asyncio.run(main())


async def post(client: TestClient, xs: list[float]) -> tuple[int, dict]:
    response = await client.post("/v1/models/m:predict", data=json.dumps({"instances": xs}))
    return response.status, await response.json()


def test_a_request_larger_than_max_batch_size_is_a_400_with_upstreams_message() -> None:
    async def scenario(client, model, metrics):
        return await post(client, [1.0] * 5), await post(client, [1.0] * 4)

    (status, body), (ok, outputs) = run(scenario)
    assert status == 400
    assert body == {"error": "Task size 5 is larger than maximum input batch size 4"}
    assert ok == 200 and outputs == {"predictions": [2.0] * 4}


def test_a_full_batching_queue_is_a_503() -> None:
    """One batch runs (held), two wait (max_enqueued_batches 2): the next request is refused
    with UNAVAILABLE, which upstream's REST layer answers with 503."""

    async def scenario(client, model, metrics):
        model.gate.clear()
        running = asyncio.ensure_future(post(client, [1.0] * 4))
        while not model.calls and not running.done():
            await asyncio.sleep(0.01)  # the batch thread took the first batch
        await asyncio.sleep(0.05)
        waiting = [asyncio.ensure_future(post(client, [1.0] * 4)) for _ in range(2)]
        await asyncio.sleep(0.1)
        refused = await post(client, [1.0])
        model.gate.set()
        return refused, await running, await asyncio.gather(*waiting)

    (status, body), first, rest = run(scenario, batch_timeout_micros=0)
    assert status == 503, body
    assert body["error"].startswith(
        "The batch scheduling queue to which this task was submitted is full"
    )
    assert first[0] == 200 and [s for s, _ in rest] == [200, 200]


def test_requests_share_a_batch_and_its_fate() -> None:
    """Two requests within the batch timeout run as one call of 2 rows (the processed batch
    size metric says so); when that call fails, both get its error, as upstream."""

    async def scenario(client, model, metrics):
        good = await asyncio.gather(post(client, [1.0]), post(client, [3.0]))
        mixed = await asyncio.gather(post(client, [1.0]), post(client, [-1.0]))
        return good, mixed, model.calls, metrics.exposition()

    good, mixed, calls, text = run(scenario, batch_timeout_micros=200_000)
    assert good == [(200, {"predictions": [2.0]}), (200, {"predictions": [6.0]})]
    assert mixed[0] == mixed[1] == (400, {"error": "negative input in a batch of 2"})
    assert calls == [2, 2]
    name = ":tensorflow:serving:batching_session:processed_batch_size"
    assert f"{name}_count{{}} 2" in text.splitlines()
    assert f'{name}_bucket{{le="2"}} 0' in text.splitlines()  # no batch of a single row
    assert f'{name}_bucket{{le="4"}} 2' in text.splitlines()


@pytest.mark.parametrize("timeout", [0, 200_000])
def test_a_bad_request_alone_in_its_batch_fails_alone(timeout) -> None:
    async def scenario(client, model, metrics):
        bad = await post(client, [-1.0])
        good = await post(client, [2.0])
        return bad, good

    bad, good = run(scenario, batch_timeout_micros=timeout)
    assert bad == (400, {"error": "negative input in a batch of 1"})
    assert good == (200, {"predictions": [4.0]})
