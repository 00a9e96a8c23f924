"""The Evaluator's configuration, built from the environment's `evaluation` section.

A model is blessed only if, on the overall eval slice, its metric clears the environment's bound
(a floor for AUC or accuracy, a ceiling for RMSE: core.metrics says which) and does not worsen by
more than `max_regression` against the latest blessed model (when there is one). The metrics follow
models/features.py's TASK: AUC and friends for binary, accuracy with per-class recall for
multiclass, RMSE for regression. A metric that a slice cannot define (AUC with one class, any
metric on no examples) is NaN, never a number a gate could compare.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow_model_analysis as tfma
from google.protobuf.wrappers_pb2 import BoolValue
from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_types

from core import metrics as M
from core.config import EvaluationConfig
from core.errors import ConfigError
from models import features as F
from models import task_metrics


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


# Metric names in the config map to the metric classes TFMA computes (its own, or ours), per task.
BINARY_METRIC_CLASSES = {
    "auc": TwoClassAUC.__name__,
    "binary_accuracy": "BinaryAccuracy",
    "precision": "Precision",
    "recall": "Recall",
}
TASK_METRIC_CLASSES = {
    "binary": BINARY_METRIC_CLASSES,
    "multiclass": {task_metrics.ACCURACY: task_metrics.ClassAccuracy.__name__},
    "regression": {task_metrics.RMSE: task_metrics.RootMeanSquaredError.__name__},
}
# What this project's model computes (the run summary lists these).
METRIC_CLASSES = TASK_METRIC_CLASSES.get(F.TASK, BINARY_METRIC_CLASSES)
_MODULES = {
    TwoClassAUC.__name__: __name__,
    task_metrics.ClassAccuracy.__name__: task_metrics.__name__,
    task_metrics.RootMeanSquaredError.__name__: task_metrics.__name__,
}

# Why TFMA leaves a metric undefined (NaN) on a slice; the run summary shows the reason.
WHY_UNDEFINED = {
    "auc": "one class",
    "recall": "one class",
    "precision": "no positive predictions",
    "binary_accuracy": "no examples",
    "accuracy": "no examples",
    "rmse": "no examples",
}


def why_undefined(name: str) -> str:
    """Why a metric is NaN on a slice; a class's recall: none of that class in the slice."""
    if name.startswith("recall_"):
        return "no examples of the class"
    return WHY_UNDEFINED.get(name, "undefined")


def threshold(cfg: EvaluationConfig) -> tfma.MetricThreshold:
    """The bound (floor, or ceiling for an error) and the allowed worsening vs the baseline."""
    if M.lower_is_better(cfg.metric):
        return tfma.MetricThreshold(
            value_threshold=tfma.GenericValueThreshold(upper_bound={"value": cfg.bound}),
            change_threshold=tfma.GenericChangeThreshold(
                direction=tfma.MetricDirection.LOWER_IS_BETTER,
                absolute={"value": cfg.max_regression},
            ),
        )
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": cfg.bound}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -cfg.max_regression}
        ),
    )


def eval_config(cfg: EvaluationConfig, task: str | None = None) -> tfma.EvalConfig:
    """TFMA's config for `task` (default: models/features.py's TASK), gated on `cfg.metric`."""
    task = task or F.TASK
    if task not in TASK_METRIC_CLASSES:
        raise ConfigError(
            f"models/features.py: TASK {task!r}; expected one of {', '.join(F.TASKS)}"
        )
    classes = TASK_METRIC_CLASSES[task]
    if cfg.metric not in classes:
        raise ConfigError(
            f"evaluation.metric {cfg.metric!r} is not computed for a {task} model "
            f"(models/features.py TASK); use one of {', '.join(classes)}"
        )
    metrics = [tfma.MetricConfig(class_name="ExampleCount")]
    for name, class_name in classes.items():
        metric = tfma.MetricConfig(class_name=class_name, module=_MODULES.get(class_name, ""))
        if name == cfg.metric:
            # Scoped to the overall slice: a bare `threshold` would apply to every slice, and
            # small slices (a handful of disputed fares) cannot carry a meaningful AUC.
            metric.per_slice_thresholds.add(
                slicing_specs=[tfma.SlicingSpec()], threshold=threshold(cfg)
            )
        metrics.append(metric)
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                # What the Trainer exports. Left unset, TFMA loads the whole model once more
                # only to find this out, before the load that evaluates it.
                model_type=tfma.TF_KERAS,
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
