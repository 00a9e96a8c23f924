"""The metrics a gate can hold, and which way each one improves.

Classification metrics rise as the model gets better; an error such as RMSE falls. Every gate,
summary and retraining rule asks this module which way is better instead of assuming "higher",
so a regression model's RMSE is held under a ceiling, not over a floor.
"""

from __future__ import annotations

import math

HIGHER_IS_BETTER = ("auc", "binary_accuracy", "precision", "recall", "accuracy")
LOWER_IS_BETTER = ("rmse",)
GATED_METRICS = HIGHER_IS_BETTER + LOWER_IS_BETTER


def lower_is_better(metric: str) -> bool:
    """True for an error metric (RMSE), whose bound is a ceiling."""
    if metric not in GATED_METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(GATED_METRICS)}")
    return metric in LOWER_IS_BETTER


def clears(value: float, bound: float, metric: str) -> bool:
    """Whether `value` is on the good side of `bound` (or on it). NaN never clears."""
    if math.isnan(value):
        return False
    return value <= bound if lower_is_better(metric) else value >= bound


def worsening(candidate: float, baseline: float, metric: str) -> float:
    """How much worse the candidate is than the baseline, in the metric's units (< 0: better)."""
    return candidate - baseline if lower_is_better(metric) else baseline - candidate
