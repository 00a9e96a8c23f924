"""The reasons after NOT BLESSED follow the gated metric's direction: an RMSE misses its bound by
rising above a ceiling (evaluation.upper_bound), an AUC by falling under a floor."""

from __future__ import annotations

import math
from pathlib import Path

import tensorflow as tf
from tensorflow_model_analysis.proto import validation_result_pb2

from pipeline import summary
from pipeline.summary import MetricRow, RunSummary


def _reasons(tmp_path: Path, name: str, value: float, **bounds: float) -> list[str]:
    """One failed value threshold on the overall slice, read back as the run summary reads it."""
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    failure = result.metric_validations_per_slice.add().failures.add()
    failure.metric_key.name = name
    failure.metric_value.double_value.value = value
    for side, bound in bounds.items():
        getattr(failure.metric_threshold.value_threshold, side).value = bound
    with tf.io.TFRecordWriter(str(tmp_path / "validations.tfrecord")) as writer:
        writer.write(result.SerializeToString())
    return summary.read_blessing_failures(str(tmp_path))


def test_an_rmse_above_its_ceiling_says_ceiling(tmp_path: Path) -> None:
    assert _reasons(tmp_path, "rmse", 4.2, upper_bound=3.5) == [
        "rmse on overall is 4.2000, above the ceiling 3.5 (evaluation.upper_bound)"
    ]


def test_an_undefined_rmse_cannot_be_held_under_its_ceiling(tmp_path: Path) -> None:
    (reason,) = _reasons(tmp_path, "rmse", math.nan, upper_bound=3.5)
    assert reason.startswith("rmse on overall is undefined (")
    assert reason.endswith("so it cannot be held under the ceiling 3.5 (evaluation.upper_bound)")


def test_the_direction_comes_from_the_metric_not_from_which_bound_is_set(tmp_path: Path) -> None:
    """core.metrics decides: an auc threshold is a floor even when TFMA's proto has only a
    ceiling-like field, and an rmse's a ceiling though a stray floor is set too."""
    assert summary.bound_of("rmse", _threshold(lower_bound=1.0, upper_bound=3.5)) == (True, 3.5)
    assert summary.bound_of("auc", _threshold(lower_bound=0.8, upper_bound=1.0)) == (False, 0.8)
    assert summary.bound_of("accuracy", _threshold(lower_bound=0.4)) == (False, 0.4)


def test_a_metric_the_gates_do_not_know_keeps_the_bound_tfma_held() -> None:
    assert summary.bound_of("mean_label", _threshold(upper_bound=2.0)) == (True, 2.0)
    assert summary.bound_of("mean_label", _threshold(lower_bound=0.1)) == (False, 0.1)
    assert summary.bound_of("mean_label", _threshold()) == (False, 0.0)


def test_an_rmse_threshold_with_a_zero_floor_too_still_reads_as_its_ceiling(
    tmp_path: Path,
) -> None:
    assert _reasons(tmp_path, "rmse", 4.2, lower_bound=0.0, upper_bound=3.5) == [
        "rmse on overall is 4.2000, above the ceiling 3.5 (evaluation.upper_bound)"
    ]
    (reason,) = _reasons(tmp_path, "rmse", math.nan, lower_bound=0.0, upper_bound=3.5)
    assert reason.endswith("so it cannot be held under the ceiling 3.5 (evaluation.upper_bound)")


def test_an_auc_keeps_its_floor_wording(tmp_path: Path) -> None:
    assert _reasons(tmp_path, "auc", 0.75, lower_bound=0.8) == [
        "auc on overall is 0.7500, below the floor 0.8 (evaluation.lower_bound)"
    ]


def test_the_metric_table_says_an_rmse_improves_downwards() -> None:
    overall = MetricRow("overall", {"rmse": 3.1, "example_count": 400.0}, baseline={"rmse": 3.3})
    text = RunSummary("dev", "p", [], "PASS", [], gated_metric="rmse", overall=overall).render()
    assert "  (* gated metric, lower is better)" in text.splitlines()
    auc = MetricRow("overall", {"auc": 0.8, "example_count": 400.0})
    text = RunSummary("dev", "p", [], "PASS", [], gated_metric="auc", overall=auc).render()
    assert "  (* gated metric)" in text.splitlines()


def _threshold(**bounds: float):
    from tensorflow_model_analysis.proto import config_pb2

    threshold = config_pb2.MetricThreshold()
    for side, bound in bounds.items():
        getattr(threshold.value_threshold, side).value = bound
    return threshold
