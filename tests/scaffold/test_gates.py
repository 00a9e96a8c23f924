"""The gate each environment layer gets from init's drafted bound: the taxi template's own
pattern of strictness (cloud closes a tenth of the gap to perfect, prod halves the allowed
regression, ct retrains 0.02 on the lenient side), scaled for an error such as rmse."""

from __future__ import annotations

import pytest

from scaffold import gates
from scaffold.baseline import Baseline


@pytest.mark.parametrize(
    ("baseline", "expected"),
    [
        # The taxi template's own figures come back for its bound.
        (Baseline("auc", 0.5, 0.80, ""), (0.80, 0.82, 0.78, 0.80, 0.01, 0.005)),
        (Baseline("accuracy", 0.4, 0.46123, ""), (0.4612, 0.5151, 0.4412, 0.4951, 0.01, 0.005)),
        # rmse: figures scaled by the mean's rmse, the ceilings lowered towards 0.
        (Baseline("rmse", 10.0, 9.5, ""), (9.5, 8.55, 9.7, 8.75, 0.1, 0.05)),
        (Baseline("rmse", 0.5123, 0.48671, ""), (0.4867, 0.438, 0.497, 0.4483, 0.0051, 0.0026)),
        # A constant label (rmse 0) still allows some regression: the scale falls back to 1.
        (Baseline("rmse", 0.0, 0.0, ""), (0.0, 0.0, 0.02, 0.02, 0.01, 0.005)),
    ],
)
def test_the_layers_keep_the_templates_relative_strictness(baseline, expected) -> None:
    g = gates.draft(baseline)
    got = (g.base_bound, g.cloud_bound, g.base_decay, g.cloud_decay)
    assert (*got, g.max_regression, g.prod_max_regression) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("metric", "keys"),
    [
        ("auc", ("lower_bound", "upper_bound", "decay_floor", "decay_ceiling")),
        ("accuracy", ("lower_bound", "upper_bound", "decay_floor", "decay_ceiling")),
        ("rmse", ("upper_bound", "lower_bound", "decay_ceiling", "decay_floor")),
    ],
)
def test_the_keys_follow_the_metrics_direction(metric: str, keys: tuple[str, ...]) -> None:
    g = gates.draft(Baseline(metric, 0.5, 0.6, ""))
    assert g.metric == metric
    assert (g.bound_key, g.bound_other, g.decay_key, g.decay_other) == keys
