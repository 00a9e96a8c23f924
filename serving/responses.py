"""What counts as a valid prediction response, and how a failed one is worded: shared by the
locust users, the gate that reads their failures back, and the tests.

Kept free of locust imports: locust patches the standard library with gevent when imported,
which must not happen in a process that also runs TensorFlow.
"""

from __future__ import annotations

import json
import math

# A request that got no HTTP answer at all: the gate fails on any failure that starts with this.
CONNECTION_ERROR = "connection error"


def failure_text(status: int, body: str | None, error: BaseException | None = None) -> str:
    """The failure a locust user reports for a response that is not a 200.

    Status 0 means no HTTP answer (refused, reset, timed out): locust then has no body at all,
    so the text names the connection error instead of reading one.
    """
    if status == 0:
        return f"{CONNECTION_ERROR}: {error!r}"
    return f"HTTP {status}: {(body or '')[:200]}"


def check_predictions(raw: bytes, instances: int) -> str | None:
    """None when `raw` holds one finite probability per instance, else what is wrong."""
    try:
        predictions = json.loads(raw)["predictions"]
    except (ValueError, KeyError, TypeError):
        return f"not a predictions body: {raw[:120]!r}"
    if not isinstance(predictions, list) or len(predictions) != instances:
        got = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        return f"{got} predictions for {instances} instances"
    for p in predictions:
        value = p[0] if isinstance(p, list) and len(p) == 1 else p
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not 0 <= value <= 1
        ):
            return f"not a probability: {p!r}"
    return None
