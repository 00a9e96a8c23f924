"""The measured window of a load test, timed inside locust: warm-up, reset, measure, stop.

Loaded by `mlops loadtest` (serving/loadtest.py) next to the file that defines the users, so the
window is the same whatever the users do. Locust's own `--run-time` is not used for it: its
timer starts before locust has finished starting up (gevent's clock only moves once its loop
runs), which cut a 15 s window to about 14 s on a laptop and to half of a short window on a busy
machine, while the verdict divided by the full length. Here the clock starts when the figures
are reset, and the window's real length is written to MLOPS_WINDOW_FILE for the verdict; no file
means the window never completed.
"""

from __future__ import annotations

import json
import os
import time

import gevent
from locust import events
from locust.runners import MasterRunner

WARMUP_SECONDS = float(os.environ.get("MLOPS_WARMUP_SECONDS", "0"))
MEASURED_SECONDS = float(os.environ.get("MLOPS_MEASURED_SECONDS", "0"))
WINDOW_FILE = os.environ.get("MLOPS_WINDOW_FILE", "")


@events.test_start.add_listener
def _measure(environment, **_kwargs) -> None:
    """Drop the warm-up (ramp-up, first TF calls) from the figures, then measure and stop."""
    if isinstance(environment.runner, MasterRunner) or MEASURED_SECONDS <= 0:
        return

    def window() -> None:
        gevent.sleep(WARMUP_SECONDS)
        environment.runner.stats.reset_all()
        started = time.monotonic()
        gevent.sleep(MEASURED_SECONDS)
        measured = time.monotonic() - started
        if WINDOW_FILE:
            with open(WINDOW_FILE, "w") as f:
                json.dump({"measured_seconds": measured}, f)
        environment.runner.quit()

    gevent.spawn(window)
