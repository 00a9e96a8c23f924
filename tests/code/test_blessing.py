"""The blessing rule end to end without a model: our EvalConfig, TFMA's own validator, our reasons.

The Evaluator executor completes the EvalConfig with TFMA's defaults (a baseline model spec when
there is a baseline) and TFMA's `validate_metrics` judges the metrics against it. Here the same two
TFMA calls judge chosen figures, the result is written where the Evaluator writes it, and
`read_blessing_failures` turns it into the reasons a person reads after NOT BLESSED.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.evaluators import metrics_validator
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.proto import validation_result_pb2

from core.config import EvaluationConfig
from models import evaluation
from models import features as F
from pipeline import summary

CFG = EvaluationConfig(
    metric="auc", lower_bound=0.8, max_regression=0.01, slices=["payment_type", "trip_start_hour"]
)
CASH = (("payment_type", "Cash"),)
# These rules are spelt out on the binary task's metrics (the taxi sample's AUC), whatever task
# `mlops init` configured; test_blessing_direction covers the other tasks' gated metrics.
TASK = "binary"


def _key(name: str, model: str, *, diff: bool = False) -> metric_types.MetricKey:
    return metric_types.MetricKey(name=name, model_name=model, is_diff=diff)


def judge(
    cfg: EvaluationConfig,
    candidate: dict[str, float],
    baseline: dict[str, float] | None = None,
    slice_key: tuple = (),
) -> validation_result_pb2.ValidationResult:
    """What the Evaluator decides for these figures, through TFMA's own validation code."""
    config = tfma.utils.update_eval_config_with_defaults(
        evaluation.eval_config(cfg, TASK), has_baseline=baseline is not None, rubber_stamp=True
    )
    # TFMA names the models "candidate" and "baseline" only when there is a baseline.
    model = "candidate" if baseline is not None else ""
    metrics = {_key(k, model): v for k, v in candidate.items()}
    for name, value in (baseline or {}).items():
        metrics[_key(name, "baseline")] = value
        if name in candidate:
            metrics[_key(name, "candidate", diff=True)] = candidate[name] - value
    return metrics_validator.validate_metrics((slice_key, metrics), config)


def reasons(result: validation_result_pb2.ValidationResult, tmp_path: Path) -> list[str]:
    """The reasons as the run summary reads them from the Evaluator's output folder."""
    with tf.io.TFRecordWriter(str(tmp_path / "validations.tfrecord")) as writer:
        writer.write(result.SerializeToString())
    return summary.read_blessing_failures(str(tmp_path))


def test_the_config_thresholds_only_the_gated_metric_on_the_overall_slice() -> None:
    config = evaluation.eval_config(CFG, TASK)
    spec = config.model_specs[0]
    # The exported model's signatures (models/trainer.py `export`) and the Transform's label.
    assert (spec.signature_name, spec.label_key, list(spec.preprocessing_function_names)) == (
        "serving_default",
        F.LABEL_KEY,
        ["transform_features"],
    )
    assert [list(s.feature_keys) for s in config.slicing_specs] == [
        [],
        ["payment_type"],
        ["trip_start_hour"],
    ]
    metrics = config.metrics_specs[0].metrics
    assert [m.class_name for m in metrics] == [
        "ExampleCount",
        "TwoClassAUC",  # TFMA's AUC, NaN rather than 0.0 on a slice with one class
        "BinaryAccuracy",
        "Precision",
        "Recall",
    ]
    assert [m.module for m in metrics] == ["", "models.evaluation", "", "", ""]
    gated = [m for m in metrics if m.per_slice_thresholds]
    assert [m.class_name for m in gated] == ["TwoClassAUC"]
    assert not any(m.HasField("threshold") for m in metrics)
    (per_slice,) = gated[0].per_slice_thresholds
    assert [list(s.feature_keys) for s in per_slice.slicing_specs] == [[]]


def test_tfma_computes_the_configured_metrics_not_the_models_compiled_ones() -> None:
    """The model compiles its own `auc` and `binary_accuracy`: TFMA's defaults would compute
    those too, under the gated metric's name, reloading the model for each."""
    options = evaluation.eval_config(CFG, TASK).options
    assert options.HasField("include_default_metrics")
    assert options.include_default_metrics.value is False


@pytest.mark.parametrize(
    ("candidate", "baseline", "expected"),
    [
        (0.85, None, []),  # first model: only the floor applies
        (0.80, None, []),  # exactly on the floor
        (0.7999, None, ["auc on overall is 0.7999, below the floor 0.8 (evaluation.lower_bound)"]),
        (0.85, 0.855, []),  # a regression within max_regression
        (0.85, 0.8599, []),  # just inside the allowed change
        (
            0.85,
            0.8601,
            [
                "auc on overall changed by -0.0101 against the baseline; the environment "
                "allows at most -0.0100 (evaluation.max_regression)"
            ],
        ),
        (0.95, 0.90, []),  # an improvement
        (
            0.75,
            0.90,
            [
                "auc on overall changed by -0.1500 against the baseline; the environment "
                "allows at most -0.0100 (evaluation.max_regression)",
                "auc on overall is 0.7500, below the floor 0.8 (evaluation.lower_bound)",
            ],
        ),
    ],
)
def test_floor_and_regression_decide_and_each_failure_is_one_reason(
    candidate, baseline, expected, tmp_path: Path
) -> None:
    result = judge(
        CFG,
        {"auc": candidate, "binary_accuracy": 0.1},
        None if baseline is None else {"auc": baseline, "binary_accuracy": 0.9},
    )
    assert result.validation_ok is (not expected)
    assert sorted(reasons(result, tmp_path)) == sorted(expected)


def test_the_environment_chooses_the_gated_metric_and_its_limits(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, metric="binary_accuracy", lower_bound=0.9, max_regression=0.05)
    result = judge(
        cfg, {"auc": 0.5, "binary_accuracy": 0.84}, {"auc": 0.99, "binary_accuracy": 0.9}
    )
    assert sorted(reasons(result, tmp_path)) == [
        "binary_accuracy on overall changed by -0.0600 against the baseline; the environment "
        "allows at most -0.0500 (evaluation.max_regression)",
        "binary_accuracy on overall is 0.8400, below the floor 0.9 (evaluation.lower_bound)",
    ]


def test_a_small_slice_below_the_floor_does_not_block(tmp_path: Path) -> None:
    result = judge(CFG, {"auc": 0.5}, {"auc": 0.9}, slice_key=CASH)
    assert result.validation_ok
    assert reasons(result, tmp_path) == []


def test_an_undefined_gated_metric_fails_both_rules_and_says_undefined(tmp_path: Path) -> None:
    """NaN (AUC of an eval split with one class) clears no threshold, and no reason calls it a
    number: neither the floor nor the change against the baseline can be checked."""
    result = judge(CFG, {"auc": math.nan}, {"auc": 0.9})
    assert not result.validation_ok
    assert sorted(reasons(result, tmp_path)) == [
        "auc on overall is undefined (one class), so it cannot clear the floor 0.8 "
        "(evaluation.lower_bound); the eval split needs examples of both classes",
        "auc on overall is undefined (one class), so its change against the baseline cannot "
        "be checked (evaluation.max_regression); the eval split needs examples of both classes",
    ]


def test_an_undefined_precision_names_its_own_cause(tmp_path: Path) -> None:
    cfg = dataclasses.replace(CFG, metric="precision")
    assert reasons(judge(cfg, {"precision": math.nan}), tmp_path) == [
        "precision on overall is undefined (no positive predictions), so it cannot clear the "
        "floor 0.8 (evaluation.lower_bound)"
    ]


def test_a_missing_gated_metric_is_a_reason_not_a_blessing(tmp_path: Path) -> None:
    result = judge(CFG, {"binary_accuracy": 0.9})
    assert not result.validation_ok
    assert reasons(result, tmp_path) == [
        "auc on overall has no value to check against its threshold (TFMA: Metric not found.); "
        "check evaluation.metric"
    ]


def test_a_failure_on_a_slice_names_the_slice(tmp_path: Path) -> None:
    """The template thresholds the overall slice only; a team that adds per-slice thresholds
    still gets the slice named in the reason."""
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    failing = result.metric_validations_per_slice.add()
    key = failing.slice_key.single_slice_keys
    key.add(column="payment_type", bytes_value=b"Credit Card")
    key.add(column="trip_start_hour", int64_value=7)
    failure = failing.failures.add()
    failure.metric_key.name = "auc"
    failure.metric_value.double_value.value = 0.61
    failure.metric_threshold.value_threshold.lower_bound.value = 0.7
    result.missing_thresholds = True
    missing = result.missing_slices.add()
    missing.feature_keys.append("payment_type")
    result.missing_slices.add()
    assert reasons(result, tmp_path) == [
        "auc on payment_type=Credit Card, trip_start_hour=7 is 0.6100, below the floor 0.7 "
        "(evaluation.lower_bound)",
        "TFMA found no threshold to validate against; check the evaluation section "
        "(evaluation.metric)",
        "the thresholded slice ['payment_type'] had no examples in the eval split",
        "the thresholded slice overall had no examples in the eval split",
    ]


def test_every_failure_of_a_slice_is_a_reason_even_without_a_value(tmp_path: Path) -> None:
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    failing = result.metric_validations_per_slice.add()
    no_value = failing.failures.add()  # neither a value nor TFMA's message
    no_value.metric_key.name = "precision"
    failure = failing.failures.add()
    failure.metric_key.name = "auc"
    failure.metric_value.double_value.value = 0.5
    failure.metric_threshold.value_threshold.lower_bound.value = 0.8
    assert reasons(result, tmp_path) == [
        "precision on overall has no value to check against its threshold (TFMA: no value); "
        "check evaluation.metric",
        "auc on overall is 0.5000, below the floor 0.8 (evaluation.lower_bound)",
    ]


def test_a_failed_validation_without_details_still_gives_a_reason(tmp_path: Path) -> None:
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    assert reasons(result, tmp_path) == [
        f"TFMA reported the validation as failed without a per-metric reason; see {tmp_path}"
    ]
    assert reasons(validation_result_pb2.ValidationResult(validation_ok=True), tmp_path) == []


@pytest.mark.parametrize(
    ("values", "name"),
    [
        ((), "overall"),
        ((("payment_type", b"Cash"),), "payment_type=Cash"),
        ((("trip_start_hour", 7),), "trip_start_hour=7"),
        ((("fare", 2.5),), "fare=2.5"),
        (
            (("payment_type", b"Cash"), ("trip_start_hour", 0)),
            "payment_type=Cash, trip_start_hour=0",
        ),
        ((("payment_type", None),), "payment_type="),  # a slice key without a value
    ],
)
def test_slice_names(values, name) -> None:
    from tensorflow_model_analysis.proto import metrics_for_slice_pb2

    key = metrics_for_slice_pb2.SliceKey()
    for column, value in values:
        if value is None:
            key.single_slice_keys.add(column=column)
            continue
        field = {bytes: "bytes_value", int: "int64_value", float: "float_value"}[type(value)]
        key.single_slice_keys.add(column=column, **{field: value})
    assert summary.slice_name(key) == name
