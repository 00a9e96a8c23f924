"""The trivial baseline on held-out rows, and the floors drafted from it.

A floor the model must clear is only meaningful next to what a model that learned nothing
scores: the majority class (accuracy), a constant score (AUC 0.5) or the training mean (RMSE).
Held-out rows are every fourth row, the share the pipeline's 3:1 split holds out.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from core import metrics
from scaffold.task import Task

HELD_OUT_EVERY = 4
# Binary: a constant score has AUC 0.5 whatever the data; the floor asks for a clear margin.
BINARY_FLOOR = 0.6
# Multiclass: the floor closes this share of the gap between the majority share and 1.
MULTICLASS_GAIN = 0.1
# Regression: the RMSE bound sits this far below the mean's RMSE.
REGRESSION_GAIN = 0.05


@dataclass(frozen=True)
class Baseline:
    """What a model that learned nothing scores, and the drafted gate."""

    metric: str
    baseline: float
    floor: float
    how: str

    @property
    def lower_is_better(self) -> bool:
        """Whether `floor` is a ceiling (rmse): core.metrics says, not a second list here."""
        return metrics.lower_is_better(self.metric)

    def beaten_by(self, value: float) -> bool:
        return value < self.floor if self.lower_is_better else value > self.floor


def held_out(rows: int) -> list[int]:
    return [i for i in range(rows) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]


def training(rows: int) -> list[int]:
    return [i for i in range(rows) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]


def measure(task: Task, labels: list[str]) -> Baseline:
    """The baseline of `task` on the held-out share of `labels`, and its floor."""
    test = [labels[i] for i in held_out(len(labels))]
    train = [labels[i] for i in training(len(labels))]
    if task.kind == "regression":
        mean = sum(float(v) for v in train) / len(train)
        rmse = math.sqrt(sum((float(v) - mean) ** 2 for v in test) / len(test))
        return Baseline(
            "rmse",
            round(rmse, 4),
            round(rmse * (1 - REGRESSION_GAIN), 4),
            f"predict the training mean {mean:.4g}",
        )
    if task.kind == "binary":
        return Baseline("auc", 0.5, BINARY_FLOOR, "a constant score")
    counts = Counter(train)
    majority = counts.most_common(1)[0][0]
    share = sum(1 for v in test if v == majority) / len(test)
    floor = share + (1 - share) * MULTICLASS_GAIN
    return Baseline(
        "accuracy",
        round(share, 4),
        round(math.floor(floor * 100) / 100 if floor > share + 0.01 else floor, 4),
        f"always predict the majority class {majority!r}",
    )
