"""Locust users for the load-test gate: real evaluation rows posted to TF Serving's `:predict`.

Run by `mlops loadtest` (serving/loadtest.py), which prepares the request bodies and passes
their file and the users' wait time through environment variables; serving/locust_window.py,
loaded with this file, times the warm-up and the measured window. A response counts as a
failure when its status is not 200 (no answer at all is a connection error) or its body is not
one finite probability per instance. Nothing here may raise on a bad answer: an
exception in a user drops its request from the figures, and the gate then fails on it.
"""

from __future__ import annotations

import itertools
import json
import os

from locust import FastHttpUser, constant, task
from locust.exception import StopUser

from serving.responses import check_predictions, failure_text


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
WAIT_SECONDS = float(os.environ.get("MLOPS_WAIT_SECONDS", "0"))

_bodies: list[bytes] = []


def _load_bodies() -> list[bytes]:
    if not _bodies:
        with open(BODIES_FILE) as f:
            _bodies.extend(json.dumps(body).encode() for body in json.load(f))
    return _bodies


class PredictUser(FastHttpUser):
    # Closed loop: each user sends its next request WAIT_SECONDS after the last one is answered.
    wait_time = constant(WAIT_SECONDS)

    def on_start(self) -> None:
        try:
            bodies = _load_bodies()
            if not bodies:
                raise ValueError(f"no request bodies in {BODIES_FILE}")
        except Exception as exc:
            # Locust logs an exception in on_start but does not count it: report it as a user
            # error, so the gate sees the crash, then stop this user.
            self.environment.events.user_error.fire(
                user_instance=self, exception=exc, tb=exc.__traceback__
            )
            raise StopUser() from exc
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
                error = getattr(response, "error", None)  # set only when the request raised
                response.failure(failure_text(response.status_code, response.text, error))
                return
            problem = check_predictions(response.content, instances=1)
            if problem:
                response.failure(problem)
            else:
                response.success()
