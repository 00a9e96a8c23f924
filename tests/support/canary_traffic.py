"""A locustfile for the canary-analysis tests: weighted traffic to a stable stand-in and to
candidates, as a route's backend weights would split it.

Hosts come from CANARY_TRAFFIC_STABLE and CANARY_TRAFFIC_CANDIDATES (comma-separated); every
candidate gets a user class of weight 3, the stable one weight 9 (with one candidate a 75/25
split; with three, each candidate gets 1/6 of the users). The analysis reads only candidates,
and each needs a few hundred requests so that its p99 is not its second-slowest request.
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

MODEL = "taxi_tips"
BODY = '{"instances": [{"b64": "AA=="}]}'  # the constant test model takes any serialized bytes


def _user(name: str, host: str, weight: int) -> type[FastHttpUser]:
    class Predict(FastHttpUser):
        wait_time = constant(0.05)  # light load: latency is the stand-ins' delay

        @task
        def predict(self) -> None:
            self.client.post(
                f"/v1/models/{MODEL}:predict",
                data=BODY,
                headers={"Content-Type": "application/json"},
                name=name,
            )

    Predict.host = host
    Predict.weight = weight
    Predict.__name__ = name
    return Predict


_CANDIDATES = [h for h in os.environ.get("CANARY_TRAFFIC_CANDIDATES", "").split(",") if h]
StableUser = _user("stable", os.environ.get("CANARY_TRAFFIC_STABLE", ""), 9)
for _i, _host in enumerate(_CANDIDATES):
    globals()[f"CandidateUser{_i}"] = _user(f"candidate{_i}", _host, 3)
