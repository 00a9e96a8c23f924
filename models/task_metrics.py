"""The Evaluator's metrics for multiclass and regression models, undefined (NaN) when empty.

TFMA's confusion-matrix metrics binarize a multiclass output, and Keras' RMSE reads 0.0 on a
slice with no examples; a gate must never compare such a number. These count the examples
themselves: `accuracy` is the share of examples whose most probable class is the label, with
`recall_<class>` beside it for each class (NaN where the slice holds none of that class); `rmse`
is the root of the mean squared error (NaN on an empty slice).
"""

from __future__ import annotations

import math
from typing import Any

import apache_beam as beam
import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from models import features as F

ACCURACY = "accuracy"
RMSE = "rmse"


def recall_name(cls: str) -> str:
    """The metric name of one class's recall, e.g. recall_setosa."""
    return f"recall_{cls}"


def _pairs(element: Any, key: metric_types.MetricKey, eval_config: Any) -> Any:
    """(label, prediction, weight) arrays of one example, unflattened (a probability vector)."""
    return metric_util.to_label_prediction_example_weight(
        element,
        eval_config=eval_config,
        model_name=key.model_name,
        output_name=key.output_name,
        example_weighted=key.example_weighted,
        flatten=False,
    )


class _Counts(beam.CombineFn):
    """Per-class examples and hits (multiclass), or the sum of squared errors (regression)."""

    def __init__(self, kind: str, keys: list[metric_types.MetricKey], eval_config: Any) -> None:
        self._kind, self._keys, self._eval_config = kind, keys, eval_config

    def create_accumulator(self) -> dict[str, Any]:
        if self._kind == RMSE:
            return {"weight": 0.0, "squared": 0.0}
        n = len(F.CLASSES)
        return {"seen": np.zeros(n), "hit": np.zeros(n)}

    def add_input(self, acc: dict[str, Any], element: Any) -> dict[str, Any]:
        for label, prediction, weight in _pairs(element, self._keys[0], self._eval_config):
            w = float(np.asarray(weight).reshape(-1)[0])
            if self._kind == RMSE:
                error = float(np.asarray(label).reshape(-1)[0]) - float(
                    np.asarray(prediction).reshape(-1)[0]
                )
                acc["weight"] += w
                acc["squared"] += w * error * error
                continue
            truth = int(np.asarray(label).reshape(-1)[0])
            if not 0 <= truth < len(acc["seen"]):
                continue  # outside F.CLASSES: the schema's domain stops such a span first
            acc["seen"][truth] += w
            if int(np.argmax(np.asarray(prediction).reshape(-1))) == truth:
                acc["hit"][truth] += w
        return acc

    def merge_accumulators(self, accumulators: Any) -> dict[str, Any]:
        merged = self.create_accumulator()
        for acc in accumulators:
            for name in merged:
                merged[name] = merged[name] + acc[name]
        return merged

    def extract_output(self, acc: dict[str, Any]) -> dict[metric_types.MetricKey, float]:
        if self._kind == RMSE:
            value = math.sqrt(acc["squared"] / acc["weight"]) if acc["weight"] > 0 else math.nan
            return {self._keys[0]: value}
        seen, hit = acc["seen"], acc["hit"]
        total = float(seen.sum())
        out = {self._keys[0]: float(hit.sum()) / total if total > 0 else math.nan}
        for key, s, h in zip(self._keys[1:], seen, hit, strict=True):
            out[key] = float(h / s) if s > 0 else math.nan
        return out


def _computations(kind: str) -> Any:
    def create(
        name: str = "",
        eval_config: Any = None,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **_: Any,
    ) -> metric_types.MetricComputations:
        names = [name or kind]
        if kind == ACCURACY:
            names += [recall_name(c) for c in F.CLASSES]
        keys = [
            metric_types.MetricKey(
                name=n,
                model_name=model_name,
                output_name=output_name,
                example_weighted=example_weighted,
            )
            for n in names
        ]
        return [
            metric_types.MetricComputation(
                keys=keys, preprocessors=None, combiner=_Counts(kind, keys, eval_config)
            )
        ]

    return metric_util.merge_per_key_computations(create)


class ClassAccuracy(metric_types.Metric):
    """Top-1 accuracy of a softmax output over F.CLASSES, and each class's recall."""

    def __init__(self, name: str = ACCURACY) -> None:
        super().__init__(_computations(ACCURACY), name=name)


class RootMeanSquaredError(metric_types.Metric):
    """RMSE of a regression output, in the label's units; NaN on an empty slice."""

    def __init__(self, name: str = RMSE) -> None:
        super().__init__(_computations(RMSE), name=name)
