"""The run summary file is read by CI job summaries and `mlops promote`: it must be strict JSON."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from core.errors import GateError
from pipeline.runner import require_blessed
from pipeline.summary import MetricRow, RunSummary
from tests.support.repo import strict_json


def test_metrics_tfma_could_not_compute_are_written_as_null(tmp_path: Path) -> None:
    """A slice with one class has no AUC: TFMA reports NaN, which `JSON.parse` rejects."""
    summary = RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        overall=MetricRow("overall", {"auc": 0.9, "loss": math.inf}),
        slices=[
            MetricRow(
                "payment_type=No Charge",
                {"auc": math.nan, "example_count": 3.0},
                baseline={"auc": -math.inf},
            )
        ],
    )
    path = tmp_path / "run_summary.json"
    path.write_text(summary.to_json())
    data = strict_json(path)
    assert data["overall"]["metrics"] == {"auc": 0.9, "loss": None}
    assert data["slices"][0]["metrics"] == {"auc": None, "example_count": 3.0}
    assert data["slices"][0]["baseline"] == {"auc": None}


def test_the_strict_parser_refuses_bare_nan(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"auc": NaN}')
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict_json(path)


@pytest.mark.parametrize("blessed", [True, None])
def test_a_blessed_or_unevaluated_run_passes(blessed: bool | None) -> None:
    require_blessed(_summary(blessed))


def test_a_run_whose_model_was_not_blessed_is_stopped_by_the_gate() -> None:
    with pytest.raises(GateError, match=r"the model was not blessed .*nothing was pushed"):
        require_blessed(_summary(False))


def _summary(blessed: bool | None) -> RunSummary:
    return RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        blessed=blessed,
    )


@pytest.mark.parametrize(("verdict", "went_on"), [("WARN", True), ("FAIL", False), ("PASS", False)])
def test_the_summary_says_when_drift_only_warned(verdict: str, went_on: bool) -> None:
    """The drift verdict as the report JSON holds it (plain text) drives the warn line."""
    summary = RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        drift={
            "verdict": verdict,
            "span": 2,
            "baseline_spans": [1],
            "mode": "warn" if verdict == "WARN" else "stop",
            "examples": 1000,
            "drifted": [],
        },
    )
    assert f"Drift: {verdict} (span 2" in summary.render()
    assert ("drift.mode is warn: the run went on" in summary.render()) is went_on
