"""The Evaluator's configuration, built from the environment's `evaluation` section.

A model is blessed only if, on the overall eval slice, its metric clears the environment's floor
and does not fall more than `max_regression` below the latest blessed model (when there is one).
A metric that a slice cannot define (AUC with one class) is NaN, never a number a gate could
compare: see TwoClassAUC.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow_model_analysis as tfma
from google.protobuf.wrappers_pb2 import BoolValue
from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_types

from core.config import EvaluationConfig
from models import features as F


class TwoClassAUC(tfma.metrics.AUC):
    """TFMA's AUC, but NaN on a slice that holds only one class.

    TFMA sums the ROC curve with `np.nansum`: with no positives every recall is 0/0 = NaN, and
    the sum of nothing is 0.0, so a slice of Cash fares (no recorded tips) scored AUC 0.0. AUC
    ranks positives against negatives; without both it is undefined, and says so.
    """

    def _metric_value(
        self,
        curve: str,
        summation_method: str,
        key: metric_types.MetricKey,
        matrices: binary_confusion_matrices.Matrices,
    ) -> float:
        # Every threshold sees every example: tp + fn counts the positives, fp + tn the negatives.
        positives = np.asarray(matrices.tp) + np.asarray(matrices.fn)
        negatives = np.asarray(matrices.fp) + np.asarray(matrices.tn)
        if not (positives.min() > 0 and negatives.min() > 0):
            return math.nan
        # TFMA's AUC discards `key` (del key), so a mutant passing None instead is equivalent.
        return super()._metric_value(curve, summation_method, key, matrices)  # pragma: no mutate


# Metric names in the config map to the metric classes TFMA computes (its own, or ours above).
METRIC_CLASSES = {
    "auc": TwoClassAUC.__name__,
    "binary_accuracy": "BinaryAccuracy",
    "precision": "Precision",
    "recall": "Recall",
}
_OURS = {TwoClassAUC.__name__}

# Why TFMA leaves a metric undefined (NaN) on a slice; the run summary shows the reason.
WHY_UNDEFINED = {
    "auc": "one class",
    "recall": "one class",
    "precision": "no positive predictions",
    "binary_accuracy": "no examples",
}


def eval_config(cfg: EvaluationConfig) -> tfma.EvalConfig:
    threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": cfg.lower_bound}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -cfg.max_regression}
        ),
    )
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    for name, class_name in METRIC_CLASSES.items():
        metric = tfma.MetricConfig(
            class_name=class_name, module=__name__ if class_name in _OURS else ""
        )
        if name == cfg.metric:
            # Scoped to the overall slice: a bare `threshold` would apply to every slice, and
            # small slices (a handful of disputed fares) cannot carry a meaningful AUC.
            metric.per_slice_thresholds.add(slicing_specs=[tfma.SlicingSpec()], threshold=threshold)
        metrics.append(metric)
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key=F.LABEL_KEY,
                # The label is computed by the Transform graph the model carries.
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=[key]) for key in cfg.slices],
        metrics_specs=[tfma.MetricsSpec(metrics=metrics)],
        # Not the model's compiled Keras metrics as well: TFMA would load the model again for
        # each and trace them (about 13 s of CPU and 300 MiB per run) to add an `auc` and a
        # `binary_accuracy` under the same names as the ones above, and an eval `loss` that no
        # gate reads. The metrics above are the ones the gate and the run summary use.
        options=tfma.Options(include_default_metrics=BoolValue(value=False)),
    )
