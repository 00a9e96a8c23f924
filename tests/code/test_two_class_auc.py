"""TwoClassAUC on confusion matrices built by hand: NaN without both classes, TFMA's own AUC
with them.

These call the metric's value function directly, without a Beam pipeline, so they are fast
enough for the mutation-test selection; tests/code/test_undefined_metrics.py runs TFMA itself.
"""

from __future__ import annotations

import math

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_types

from models.evaluation import TwoClassAUC

KEY = metric_types.MetricKey(name="auc")


def _matrices(labels: list[int], scores: list[float]) -> binary_confusion_matrices.Matrices:
    """Counts at thresholds -1e-7, 0.25, 0.5, 0.75 and 1.0: predicted positive above each."""
    thresholds = [-1e-7, 0.25, 0.5, 0.75, 1.0]
    tp, tn, fp, fn = [], [], [], []
    for t in thresholds:
        above = [s > t for s in scores]
        tp.append(float(sum(a and y == 1 for a, y in zip(above, labels, strict=True))))
        fn.append(float(sum(not a and y == 1 for a, y in zip(above, labels, strict=True))))
        fp.append(float(sum(a and y == 0 for a, y in zip(above, labels, strict=True))))
        tn.append(float(sum(not a and y == 0 for a, y in zip(above, labels, strict=True))))
    return binary_confusion_matrices.Matrices(thresholds, tp, tn, fp, fn)


def _auc(matrices: binary_confusion_matrices.Matrices, curve: str = "ROC") -> float:
    return TwoClassAUC()._metric_value(curve, "interpolation", KEY, matrices)


def test_one_positive_ranked_above_one_negative_scores_one() -> None:
    """The fewest examples that define AUC: one of each class."""
    assert _auc(_matrices([1, 0], [0.9, 0.1])) == 1.0
    assert _auc(_matrices([1, 0], [0.1, 0.9])) == 0.0


def test_with_both_classes_it_is_tfmas_own_auc() -> None:
    matrices = _matrices([1, 1, 0, 0, 1], [0.9, 0.3, 0.6, 0.1, 0.8])
    ours = _auc(matrices)
    assert ours == tfma.metrics.AUC()._metric_value("ROC", "interpolation", KEY, matrices)
    assert math.isclose(ours, 5 / 6)
    pr = _auc(matrices, curve="PR")  # the curve asked for is the one summed
    assert pr == tfma.metrics.AUC()._metric_value("PR", "interpolation", KEY, matrices)
    assert not math.isclose(pr, ours)


def test_one_class_is_undefined_where_tfmas_own_auc_says_zero() -> None:
    no_positives = _matrices([0, 0, 0], [0.9, 0.3, 0.6])
    assert tfma.metrics.AUC()._metric_value("ROC", "interpolation", KEY, no_positives) == 0.0
    assert math.isnan(_auc(no_positives))
    assert math.isnan(_auc(_matrices([1, 1], [0.9, 0.3])))  # no negatives
    assert math.isnan(_auc(_matrices([], [])))  # no examples
