"""What counts as a valid prediction response: shared by the locust users and the tests.

Kept free of locust imports: locust patches the standard library with gevent when imported,
which must not happen in a process that also runs TensorFlow.
"""

from __future__ import annotations

import json
import math


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
