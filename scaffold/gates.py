"""The gates `mlops init` writes for each environment layer, from the drafted bound.

The taxi template's layers hold one pattern of strictness: the cloud layer (staging, prod) asks
for a tenth of what is left between the base bound and a perfect score (0.80 -> 0.82), prod
allows half the base's regression (0.01 -> 0.005), and `mlops ct check` retrains 0.02 on the
lenient side of the bound (0.78, 0.80). A classification metric is a fraction, so these figures
hold as they are; an error such as rmse has no fixed range, so its figures are scaled by the
trivial baseline's rmse, and its bounds are ceilings (core.metrics).
"""

from __future__ import annotations

from dataclasses import dataclass

from core import metrics
from scaffold.baseline import Baseline

CLOUD_GAIN = 0.1  # share of the gap to a perfect score the cloud layer closes
MAX_REGRESSION = 0.01  # base; in units of the metric's scale
PROD_MAX_REGRESSION = 0.005
DECAY_MARGIN = 0.02


@dataclass(frozen=True)
class Gates:
    """Keys and values per layer; `*_key` is the one written, `*_other` the one it replaces."""

    metric: str
    bound_key: str
    bound_other: str
    decay_key: str
    decay_other: str
    base_bound: float
    cloud_bound: float
    base_decay: float
    cloud_decay: float
    max_regression: float
    prod_max_regression: float


def draft(b: Baseline) -> Gates:
    """Every layer's gate for the drafted bound `b.floor`, in the direction of `b.metric`."""
    lower = metrics.lower_is_better(b.metric)
    # A fraction's scale is 1; an error's is what the trivial baseline gets wrong.
    scale = b.baseline if lower and b.baseline > 0 else 1.0
    perfect = 0.0 if lower else 1.0
    cloud = b.floor + (perfect - b.floor) * CLOUD_GAIN
    lenient = (DECAY_MARGIN if lower else -DECAY_MARGIN) * scale
    return Gates(
        metric=b.metric,
        bound_key="upper_bound" if lower else "lower_bound",
        bound_other="lower_bound" if lower else "upper_bound",
        decay_key="decay_ceiling" if lower else "decay_floor",
        decay_other="decay_floor" if lower else "decay_ceiling",
        base_bound=round(b.floor, 4),
        cloud_bound=round(cloud, 4),
        base_decay=round(max(b.floor + lenient, 0.0), 4),
        cloud_decay=round(max(cloud + lenient, 0.0), 4),
        max_regression=round(MAX_REGRESSION * scale, 4),
        prod_max_regression=round(PROD_MAX_REGRESSION * scale, 4),
    )
