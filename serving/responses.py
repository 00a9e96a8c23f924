"""What counts as a valid prediction response, and how a failed one is worded: shared by the
locust users, the gate that reads their failures back, and the tests.

Kept free of locust imports: locust patches the standard library with gevent when imported,
which must not happen in a process that also runs TensorFlow.
"""

from __future__ import annotations

import json
import math

from models import features as F

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


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_prediction(p: object, task: str, classes: int) -> str | None:
    """None when `p` is what the task's model serves, else what is wrong: a probability (binary),
    a probability per class summing to 1 (multiclass), or a finite number (regression)."""
    if task == "multiclass":
        if not (isinstance(p, list) and len(p) == classes and all(_number(v) for v in p)):
            return f"not {classes} class probabilities: {p!r}"
        if not (all(0 <= v <= 1 for v in p) and abs(sum(p) - 1) <= 1e-3):
            return f"class probabilities that do not sum to 1: {p!r}"
        return None
    value = p[0] if isinstance(p, list) and len(p) == 1 else p
    if task == "regression":
        return None if _number(value) else f"not a number: {p!r}"
    if not _number(value) or not 0 <= value <= 1:  # type: ignore[operator]
        return f"not a probability: {p!r}"
    return None


def check_predictions(raw: bytes, instances: int) -> str | None:
    """None when `raw` holds one valid prediction per instance (models/features.py's TASK says
    which kind), else what is wrong."""
    try:
        predictions = json.loads(raw)["predictions"]
    except (ValueError, KeyError, TypeError):
        return f"not a predictions body: {raw[:120]!r}"
    if not isinstance(predictions, list) or len(predictions) != instances:
        got = len(predictions) if isinstance(predictions, list) else type(predictions).__name__
        return f"{got} predictions for {instances} instances"
    for p in predictions:
        problem = check_prediction(p, F.TASK, F.class_count())
        if problem:
            return problem
    return None
