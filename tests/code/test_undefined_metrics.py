"""A metric a slice cannot define is shown as undefined, stored as null, and never compared as 0.

Cash fares carry no recorded tips, so the Cash slice holds one class and its AUC is undefined;
TFMA's own AUC sums the ROC curve with `np.nansum` and reported 0.0. These tests run TFMA itself
(`analyze_raw_data`: the Evaluator's metrics, slicing, validation and writers, fed labels and
predictions instead of a model) with the template's eval config, then read its output the way
the run summary, the slice gate and the Pusher do.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import tensorflow_model_analysis as tfma
from tfx.types import standard_artifacts

from components import evaluator, pusher
from core.config import EvaluationConfig
from models import evaluation
from pipeline import summary
from pipeline.summary import RunSummary
from tests.support import project
from tests.support.repo import strict_json

CFG = EvaluationConfig(metric="auc", lower_bound=0.6, max_regression=0.01, slices=["payment_type"])
# Cash: one class. Credit Card and Mobile: both classes, positives ranked above negatives (AUC
# 1.0); Mobile has exactly one example of each class.
ROWS: dict[str, list[Any]] = {
    "payment_type": ["Cash"] * 4 + ["Credit Card"] * 6 + ["Mobile"] * 2,
    "big_tipper": [0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0],
    "prediction": [0.1, 0.7, 0.3, 0.2, 0.9, 0.2, 0.8, 0.4, 0.6, 0.3, 0.7, 0.4],
}


def _run_tfma(rows: dict, out: Path, slice_thresholds: bool) -> Path:
    """TFMA over labelled predictions with the template's EvalConfig (value thresholds only:
    change thresholds need a baseline model). TFMA's stock AUC rides along as `stock_auc`.
    The task is the taxi sample's binary one, whatever `mlops init` configured."""
    with project.taxi_task():
        config = evaluation.eval_config(CFG)
    spec = config.model_specs[0]
    spec.ClearField("signature_name")
    spec.ClearField("preprocessing_function_names")
    spec.prediction_key = "prediction"
    metrics = config.metrics_specs[0].metrics
    metrics.add(class_name="AUC", config='"name": "stock_auc"')
    for metric in metrics:
        for per_slice in metric.per_slice_thresholds:
            per_slice.threshold.ClearField("change_threshold")
            if slice_thresholds:  # a team's per-slice threshold on every payment type
                per_slice.slicing_specs.add(feature_keys=["payment_type"])
    with project.taxi_task():
        tfma.analyze_raw_data(pd.DataFrame(rows), config, output_path=str(out))
    return out


@pytest.fixture(scope="module")
def sliced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run_tfma(ROWS, tmp_path_factory.mktemp("tfma") / "evaluation", slice_thresholds=True)


@pytest.fixture(scope="module")
def one_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = {**ROWS, "big_tipper": [0] * len(ROWS["payment_type"])}
    return _run_tfma(rows, tmp_path_factory.mktemp("tfma") / "evaluation", slice_thresholds=False)


def _slices(uri: Path) -> dict[str, summary.MetricRow]:
    overall, slices, _ = summary.read_evaluation(str(uri))
    assert overall is not None
    return {"overall": overall, **{row.slice: row for row in slices}}


def test_one_class_auc_is_undefined_where_tfmas_own_auc_says_zero(sliced: Path) -> None:
    rows = _slices(sliced)
    cash = rows["payment_type=Cash"]
    assert cash.metrics["stock_auc"] == 0.0  # where the demo's "Cash auc 0.0000" came from
    assert cash.metrics["auc"] is None
    assert cash.undefined == {"auc": "one class", "recall": "one class"}
    assert cash.metrics["example_count"] == 4
    assert rows["payment_type=Credit Card"].metrics["auc"] == pytest.approx(1.0)
    assert rows["payment_type=Mobile"].metrics["auc"] == pytest.approx(1.0)  # one of each
    assert rows["payment_type=Mobile"].undefined == {}
    overall_auc = rows["overall"].metrics["auc"]
    assert overall_auc is not None and 0.6 < overall_auc < 1.0


def test_the_summary_says_undefined_and_stores_null(sliced: Path, tmp_path: Path) -> None:
    overall, slices, has_baseline = summary.read_evaluation(str(sliced))
    run = RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        gated_metric="auc",
        overall=overall,
        slices=slices,
        has_baseline=has_baseline,
    )
    text = run.render()
    (cash,) = [line for line in text.splitlines() if "payment_type=Cash" in line]
    assert cash.split() == ["payment_type=Cash", "undefined", "(one", "class)", "(n=4)"]
    (mobile,) = [line for line in text.splitlines() if "payment_type=Mobile" in line]
    assert mobile.split() == ["payment_type=Mobile", "1.0000", "(n=2)"]
    assert "0.0000" not in text
    path = tmp_path / "run_summary.json"
    path.write_text(run.to_json())
    data = strict_json(path)
    (row,) = [r for r in data["slices"] if r["slice"] == "payment_type=Cash"]
    assert row["metrics"]["auc"] is None and row["metrics"]["stock_auc"] == 0.0
    assert row["undefined"] == {"auc": "one class", "recall": "one class"}
    assert "undefined" not in run.markdown()  # the overall slice has both classes


def _blessing(tmp_path: Path, blessed: bool) -> standard_artifacts.ModelBlessing:
    """The blessing as the stock Evaluator executor leaves it, from TFMA's verdict."""
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    Path(blessing.uri).mkdir()
    Path(blessing.uri, "BLESSED" if blessed else "NOT_BLESSED").write_text("")
    blessing.set_int_custom_property("blessed", int(blessed))
    return blessing


def test_a_slice_threshold_skips_an_undefined_slice_with_a_note(
    sliced: Path, tmp_path: Path
) -> None:
    evaluation_dir = tmp_path / "evaluation"
    shutil.copytree(sliced, evaluation_dir)
    tfma_verdict = tfma.load_validation_result(str(evaluation_dir))
    assert not tfma_verdict.validation_ok  # TFMA failed the Cash threshold on its NaN
    blessing = _blessing(tmp_path, blessed=False)

    evaluator.apply_slice_rule(str(evaluation_dir), blessing)

    assert blessing.get_int_custom_property("blessed") == 1
    assert sorted(p.name for p in Path(blessing.uri).iterdir()) == ["BLESSED"]
    assert tfma.load_validation_result(str(evaluation_dir)).validation_ok
    assert summary.read_blessing_failures(str(evaluation_dir)) == []
    notes = summary.read_skipped_thresholds(str(evaluation_dir))
    assert notes == [{"slice": "payment_type=Cash", "metric": "auc", "reason": "one class"}]
    overall, slices, _ = summary.read_evaluation(str(evaluation_dir))
    run = RunSummary("dev", "p", [], "PASS", [], gated_metric="auc", overall=overall, slices=slices)
    run.skipped_thresholds = notes
    assert (
        "threshold skipped: auc on payment_type=Cash is undefined (one class), so that "
        "slice's threshold was not checked"
    ) in run.render()


def test_an_undefined_overall_metric_is_not_blessed_and_says_why(
    one_class: Path, tmp_path: Path
) -> None:
    """No slice rule for the overall slice: a model whose gated metric cannot be computed
    fails closed, and the reason says undefined, not 0."""
    evaluation_dir = tmp_path / "evaluation"
    shutil.copytree(one_class, evaluation_dir)
    blessing = _blessing(tmp_path, blessed=False)
    evaluator.apply_slice_rule(str(evaluation_dir), blessing)
    assert blessing.get_int_custom_property("blessed") == 0
    assert sorted(p.name for p in Path(blessing.uri).iterdir()) == ["NOT_BLESSED"]
    assert summary.read_skipped_thresholds(str(evaluation_dir)) == []
    assert summary.read_blessing_failures(str(evaluation_dir)) == [
        "auc on overall is undefined (one class), so it cannot clear the floor 0.6 "
        "(evaluation.lower_bound); the eval split needs examples of both classes"
    ]
    overall = _slices(evaluation_dir)["overall"]
    assert overall.metrics["auc"] is None and overall.undefined["auc"] == "one class"
    run = RunSummary("dev", "p", [], "PASS", [], gated_metric="auc", overall=overall)
    with project.taxi_task():  # the summary lists the binary task's metrics
        assert "  auc *             undefined (one class)" in run.render().splitlines()
        assert "| auc (gated) | undefined (one class) | - |" in run.markdown()


def test_the_pusher_leaves_undefined_metrics_out_of_its_annotation(
    one_class: Path, tmp_path: Path
) -> None:
    """The Pusher reads the overall metrics beside the blessing; NaN is not JSON."""
    evaluator_dir = tmp_path / "Evaluator"
    shutil.copytree(one_class, evaluator_dir / "evaluation" / "7")
    (evaluator_dir / "blessing" / "7").mkdir(parents=True)
    metrics = pusher.overall_metrics(str(evaluator_dir / "blessing" / "7"))
    assert metrics["example_count"] == 12 and metrics["binary_accuracy"] == pytest.approx(
        7 / 12, abs=1e-6
    )
    assert "auc" not in metrics and "recall" not in metrics
    assert metrics["stock_auc"] == 0.0
    json.dumps(metrics, allow_nan=False)


def _failure(slice_key: dict, metric: str, value: float):
    from tensorflow_model_analysis.proto import validation_result_pb2

    per_slice = validation_result_pb2.MetricsValidationForSlice()
    for column, raw in slice_key.items():
        per_slice.slice_key.single_slice_keys.add(column=column, bytes_value=raw.encode())
    failure = per_slice.failures.add()
    failure.metric_key.name = metric
    failure.metric_value.double_value.value = value
    return per_slice


def test_only_undefined_single_slices_are_skipped() -> None:
    from tensorflow_model_analysis.proto import validation_result_pb2

    result = validation_result_pb2.ValidationResult(validation_ok=False)
    result.metric_validations_per_slice.extend(
        [
            _failure({"payment_type": "Cash"}, "auc", math.nan),
            _failure({"payment_type": "Credit Card"}, "auc", 0.5),  # defined: still blocks
            _failure({}, "auc", math.nan),  # overall: fails closed
        ]
    )
    kept, skipped = evaluator.skip_undefined_slices(result)
    assert not kept.validation_ok
    names = [summary.slice_name(s.slice_key) for s in kept.metric_validations_per_slice]
    assert names == ["payment_type=Credit Card", "overall"]
    assert [summary.slice_name(s.slice_key) for s in skipped.metric_validations_per_slice] == [
        "payment_type=Cash"
    ]
    only_cash = validation_result_pb2.ValidationResult(validation_ok=False)
    only_cash.metric_validations_per_slice.append(result.metric_validations_per_slice[0])
    assert evaluator.skip_undefined_slices(only_cash)[0].validation_ok
    only_cash.missing_slices.add().feature_keys.append("trip_start_hour")
    assert not evaluator.skip_undefined_slices(only_cash)[0].validation_ok  # other reasons stay
