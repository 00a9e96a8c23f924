"""`mlops ct check`'s decay rule follows the gated metric's direction: an AUC under its floor is
decay, an RMSE over its ceiling is, and the wrong direction never passes for the right one."""

from __future__ import annotations

import math

import pytest

from ct import decay
from pipeline.continuous import CheckResult, judge_decay


@pytest.mark.parametrize(
    ("metric", "value", "bound", "decayed"),
    [
        ("auc", 0.70, 0.78, True),
        ("auc", 0.80, 0.78, False),
        ("auc", 0.78, 0.78, False),  # on the bound: no decay
        ("rmse", 4.1, 3.5, True),  # would clear a floor of 3.5
        ("rmse", 3.0, 3.5, False),  # would fall under a floor of 3.5
        ("rmse", 3.5, 3.5, False),
        ("rmse", math.nan, 3.5, True),
        ("accuracy", math.nan, 0.4, True),
    ],
)
def test_decay_is_the_wrong_side_of_the_bound(
    metric: str, value: float, bound: float, decayed: bool
) -> None:
    assert decay.decayed(value, bound, metric) is decayed


def test_an_rmse_above_its_ceiling_is_a_reason_to_retrain() -> None:
    result = CheckResult()
    judge_decay(result, "rmse", 3, 4.25, 1200, 3.5)
    assert result.reasons == [
        "decay: the released model's rmse on span 3 is 4.2500 > ceiling 3.5 "
        "(continuous_training.decay_ceiling; 1200 labelled rows)"
    ]
    assert result.retrain


def test_an_rmse_under_its_ceiling_is_only_a_note() -> None:
    result = CheckResult()
    judge_decay(result, "rmse", 3, 2.9, 1200, 3.5)
    assert not result.reasons
    assert result.notes == ["released model's rmse on span 3: 2.9000 (ceiling 3.5)"]


def test_an_auc_keeps_its_floor_wording() -> None:
    result = CheckResult()
    judge_decay(result, "auc", 3, 0.61, 2000, 0.78)
    assert result.reasons == [
        "decay: the released model's auc on span 3 is 0.6100 < floor 0.78 "
        "(continuous_training.decay_floor; 2000 labelled rows)"
    ]
