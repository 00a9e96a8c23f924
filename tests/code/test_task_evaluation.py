"""The Evaluator's config and metrics per task: accuracy with per-class recall for multiclass,
RMSE held under a ceiling for regression, each NaN (undefined) on a slice that cannot define it.

The metric tests run TFMA itself (`analyze_raw_data`, fed labels and predictions instead of a
model) with the template's eval config, and read the results the way the run summary does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tensorflow_model_analysis as tfma

from core.config import EvaluationConfig
from core.errors import ConfigError
from models import evaluation
from models import features as F
from pipeline import summary

ACCURACY = EvaluationConfig(metric="accuracy", lower_bound=0.6, max_regression=0.02, slices=["g"])
RMSE = EvaluationConfig(metric="rmse", upper_bound=5.0, max_regression=0.5, slices=["g"])


def _gated(config: tfma.EvalConfig) -> tuple[str, tfma.MetricThreshold]:
    for metric in config.metrics_specs[0].metrics:
        for per_slice in metric.per_slice_thresholds:
            return metric.class_name, per_slice.threshold
    raise AssertionError("no threshold")


def test_regression_gates_rmse_under_a_ceiling_and_a_rise_is_the_regression() -> None:
    name, threshold = _gated(evaluation.eval_config(RMSE, "regression"))
    assert name == "RootMeanSquaredError"
    assert threshold.value_threshold.upper_bound.value == 5.0
    assert not threshold.value_threshold.HasField("lower_bound")
    change = threshold.change_threshold
    assert change.direction == tfma.MetricDirection.LOWER_IS_BETTER
    # LOWER_IS_BETTER: the candidate may exceed the baseline's RMSE by at most max_regression.
    assert change.absolute.value == 0.5


def test_classification_gates_keep_a_floor_and_a_drop_is_the_regression() -> None:
    for cfg, task in ((ACCURACY, "multiclass"), (EvaluationConfig("auc", 0.01, 0.7), "binary")):
        _, threshold = _gated(evaluation.eval_config(cfg, task))
        assert threshold.value_threshold.lower_bound.value == cfg.bound
        assert threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
        assert threshold.change_threshold.absolute.value == -cfg.max_regression


def test_each_task_computes_its_own_metrics() -> None:
    def names(cfg: EvaluationConfig, task: str) -> set[str]:
        return {m.class_name for m in evaluation.eval_config(cfg, task).metrics_specs[0].metrics}

    assert names(ACCURACY, "multiclass") == {"ExampleCount", "ClassAccuracy"}
    assert names(RMSE, "regression") == {"ExampleCount", "RootMeanSquaredError"}
    assert "TwoClassAUC" in names(EvaluationConfig("auc", 0.01, 0.7), "binary")


def test_a_metric_the_task_does_not_compute_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"evaluation\.metric 'auc' is not computed for a regr"):
        evaluation.eval_config(EvaluationConfig("auc", 0.01, 0.7), "regression")
    with pytest.raises(ConfigError, match=r"evaluation\.metric 'rmse'.*multiclass"):
        evaluation.eval_config(RMSE, "multiclass")


def _run(cfg: EvaluationConfig, task: str, rows: dict[str, list[Any]], out: Path) -> dict:
    """TFMA over raw labels and predictions; {slice: {metric: value or None}}."""
    config = evaluation.eval_config(cfg, task)
    spec = config.model_specs[0]
    spec.ClearField("signature_name")
    spec.ClearField("preprocessing_function_names")
    spec.label_key = "label"
    spec.prediction_key = "prediction"
    for metric in config.metrics_specs[0].metrics:  # change thresholds need a baseline model
        for per_slice in metric.per_slice_thresholds:
            per_slice.threshold.ClearField("change_threshold")
    tfma.analyze_raw_data(pd.DataFrame(rows), config, output_path=str(out))
    overall, slices, _ = summary.read_evaluation(str(out))
    assert overall is not None
    return {r.slice: r.metrics for r in [overall, *slices]}


def test_accuracy_and_per_class_recall_are_counted_and_undefined_without_examples(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(F, "CLASSES", ("a", "b", "c"))
    rows: dict[str, list[Any]] = {
        # g=x: labels a, a, b, c; g=y: only class a (b and c undefined there).
        "g": ["x", "x", "x", "x", "y", "y"],
        "label": [0, 0, 1, 2, 0, 0],
        "prediction": [
            [0.8, 0.1, 0.1],
            [0.2, 0.7, 0.1],
            [0.1, 0.8, 0.1],
            [0.5, 0.2, 0.3],
            [0.6, 0.3, 0.1],
            [0.9, 0.05, 0.05],
        ],
    }
    got = _run(ACCURACY, "multiclass", rows, tmp_path / "eval")
    assert got["overall"]["accuracy"] == pytest.approx(4 / 6)
    assert got["overall"]["recall_a"] == pytest.approx(3 / 4)
    assert got["overall"]["recall_b"] == 1.0 and got["overall"]["recall_c"] == 0.0
    y = next(v for k, v in got.items() if k != "overall" and "y" in k)
    assert y["accuracy"] == 1.0 and y["recall_a"] == 1.0
    assert y["recall_b"] is None and y["recall_c"] is None  # NaN: no example of the class
    assert evaluation.why_undefined("recall_b") == "no examples of the class"


def test_rmse_is_the_root_mean_squared_error_per_slice(tmp_path) -> None:
    rows: dict[str, list[Any]] = {
        "g": ["x", "x", "y", "y"],
        "label": [10.0, 20.0, 0.0, 0.0],
        "prediction": [13.0, 16.0, 1.0, -1.0],
    }
    got = _run(RMSE, "regression", rows, tmp_path / "eval")
    assert got["overall"]["rmse"] == pytest.approx(math.sqrt((9 + 16 + 1 + 1) / 4))
    x = next(v for k, v in got.items() if k != "overall" and "x" in k)
    assert x["rmse"] == pytest.approx(math.sqrt(12.5))


def test_an_empty_slice_has_no_rmse_and_no_accuracy() -> None:
    from models import task_metrics

    for kind in (task_metrics.RMSE, task_metrics.ACCURACY):
        metric = (
            task_metrics.RootMeanSquaredError()
            if kind == task_metrics.RMSE
            else task_metrics.ClassAccuracy()
        )
        computation = metric.computations()[0]
        combiner = computation.combiner
        out = combiner.extract_output(combiner.create_accumulator())
        assert all(math.isnan(v) for v in out.values()), out
