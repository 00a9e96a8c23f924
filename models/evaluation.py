"""The Evaluator's configuration, built from the environment's `evaluation` section.

A model is blessed only if, on the overall eval slice, its metric clears the environment's floor
and does not fall more than `max_regression` below the latest blessed model (when there is one).
"""

from __future__ import annotations

import tensorflow_model_analysis as tfma

from core.config import EvaluationConfig
from models import features as F

# Metric names in the config map to the Keras metric classes TFMA computes.
METRIC_CLASSES = {
    "auc": "AUC",
    "binary_accuracy": "BinaryAccuracy",
    "precision": "Precision",
    "recall": "Recall",
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
        metric = tfma.MetricConfig(class_name=class_name)
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
    )
