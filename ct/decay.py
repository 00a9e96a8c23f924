"""Continuous training's decay rule: which side of the configured bound a released model's score
is on, in the direction its metric improves (core.metrics).

An AUC that falls under `continuous_training.decay_floor` is decay; an RMSE that rises over
`continuous_training.decay_ceiling` is. An undefined score (NaN) counts as decay: a model whose
metric cannot be computed on fresh labels is no model to keep serving unexamined.
"""

from __future__ import annotations

from core import metrics


def bound_key(metric: str) -> str:
    """The config key that holds `metric`'s decay bound."""
    ceiling = metrics.lower_is_better(metric)
    return "continuous_training.decay_ceiling" if ceiling else "continuous_training.decay_floor"


def bound_name(metric: str) -> str:
    """`floor` or `ceiling`, as people read the bound of `metric`."""
    return "ceiling" if metrics.lower_is_better(metric) else "floor"


def decayed(value: float, bound: float, metric: str) -> bool:
    """Whether `value` of `metric` is on the wrong side of `bound` (a bound itself is no decay)."""
    return not metrics.clears(value, bound, metric)


def reason(value: float, bound: float, metric: str) -> str:
    """`0.6100 < floor 0.78 (continuous_training.decay_floor` (the caller closes it)."""
    sign = ">" if metrics.lower_is_better(metric) else "<"
    return f"{value:.4f} {sign} {bound_name(metric)} {bound} ({bound_key(metric)}"
