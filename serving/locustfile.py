"""Locust users for the load-test gate: real evaluation rows posted to TF Serving's `:predict`.

Run by `mlops loadtest` (serving/loadtest.py), which prepares the request bodies and passes
their file and the warm-up through environment variables. A response counts as a failure when
its status is not 200 or its body is not one finite probability per instance.
"""

from __future__ import annotations

import itertools
import json
import os

import gevent
from locust import FastHttpUser, events, task
from locust.runners import MasterRunner

from serving.responses import check_predictions


def _set_by_mlops(name: str) -> str:
    """A value `mlops loadtest` passes from the environment's config; none is guessed here."""
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(
            f"serving/locustfile.py: {name} is not set; run the load test with "
            f"`mlops loadtest --env ENV`, which sets it from that environment's config"
        )
    return value


MODEL = _set_by_mlops("MLOPS_MODEL_NAME")  # the config's model_name
BODIES_FILE = _set_by_mlops("MLOPS_REQUEST_BODIES")
WARMUP_SECONDS = float(os.environ.get("MLOPS_WARMUP_SECONDS", "0"))

_bodies: list[bytes] = []


def _load_bodies() -> list[bytes]:
    if not _bodies:
        with open(BODIES_FILE) as f:
            _bodies.extend(json.dumps(body).encode() for body in json.load(f))
    return _bodies


@events.test_start.add_listener
def _reset_after_warmup(environment, **_kwargs) -> None:
    """Drop the warm-up (ramp-up, first TF calls) from the figures the gate reads."""
    if WARMUP_SECONDS <= 0 or isinstance(environment.runner, MasterRunner):
        return

    def reset() -> None:
        gevent.sleep(WARMUP_SECONDS)
        environment.runner.stats.reset_all()

    gevent.spawn(reset)


class PredictUser(FastHttpUser):
    # Closed loop: each user sends its next request as soon as the last one is answered.
    def on_start(self) -> None:
        bodies = _load_bodies()
        start = (id(self) // 16) % len(bodies)
        self._bodies = itertools.islice(itertools.cycle(bodies), start, None)

    @task
    def predict(self) -> None:
        body = next(self._bodies)
        with self.client.post(
            f"/v1/models/{MODEL}:predict",
            data=body,  # type: ignore[arg-type]  # locust sends bytes as they are; its hint omits them
            headers={"Content-Type": "application/json"},
            name=f"/v1/models/{MODEL}:predict",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            problem = check_predictions(response.content, instances=1)
            if problem:
                response.failure(problem)
            else:
                response.success()
