"""The data gate as TFX runs it: its executor on ExampleAnomalies artifacts, and its report.

These pin what a person reads when the gate stops a run (the table, the JSON and Markdown report,
the error message), and that an anomaly of any kind or level is never passed silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeAlias

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.types import artifact_utils, standard_artifacts

from components import data_gate

A: TypeAlias = anomalies_pb2.AnomalyInfo


def _anomalies(root: Path, split: str, features: dict[str, A], dataset: A | None = None) -> None:
    proto = anomalies_pb2.Anomalies()
    for name, info in features.items():
        proto.anomaly_info[name].CopyFrom(info)
    if dataset is not None:
        proto.dataset_anomaly_info.CopyFrom(dataset)
    (root / f"Split-{split}").mkdir(parents=True)
    (root / f"Split-{split}" / data_gate.SCHEMA_DIFF_FILE).write_bytes(proto.SerializeToString())


def _info(short: str, *reasons: tuple[int, str], description: str = "") -> A:
    info = A(short_description=short, description=description)
    for kind, text in reasons:
        info.reason.add(type=kind, description=text)
    return info


TYPE = _info("Unexpected data type", (A.UNEXPECTED_DATA_TYPE, "Expected FLOAT, got BYTES"))
TWO_REASONS = _info(
    "Multiple errors",
    (A.SCHEMA_MISSING_COLUMN, "Column dropped"),
    (A.FEATURE_TYPE_LOW_FRACTION_PRESENT, "Too few present"),
)
NO_REASON = _info("Out of range", description="Values above 23")
TOO_FEW = _info(
    "Low count",
    (A.DATASET_LOW_NUM_EXAMPLES, "Only 3 examples"),
    description="The dataset has 3 examples",
)


def test_every_anomaly_is_read_with_its_kinds_and_reasons(tmp_path: Path) -> None:
    _anomalies(
        tmp_path, "train", {"trip_miles": TYPE, "fare": TWO_REASONS, "trip_start_hour": NO_REASON}
    )
    _anomalies(tmp_path, "eval", {}, dataset=TOO_FEW)
    found = data_gate.read_anomalies(str(tmp_path), ["train", "eval"])
    assert found == [
        data_gate.Anomaly(
            "train",
            "fare",
            ["FEATURE_TYPE_LOW_FRACTION_PRESENT", "SCHEMA_MISSING_COLUMN"],
            "Multiple errors: Column dropped; Too few present",
        ),
        data_gate.Anomaly(
            "train",
            "trip_miles",
            ["UNEXPECTED_DATA_TYPE"],
            "Unexpected data type: Expected FLOAT, got BYTES",
        ),
        # No per-reason text: the feature's own description stands in.
        data_gate.Anomaly("train", "trip_start_hour", [], "Out of range: Values above 23"),
        data_gate.Anomaly(
            "eval", "(dataset)", ["DATASET_LOW_NUM_EXAMPLES"], "The dataset has 3 examples"
        ),
    ]


def test_a_clean_split_has_no_anomalies(tmp_path: Path) -> None:
    _anomalies(tmp_path, "train", {})
    assert data_gate.read_anomalies(str(tmp_path), ["train"]) == []


REPORTED = [
    data_gate.Anomaly(
        "train", "fare", ["SCHEMA_MISSING_COLUMN", "UNEXPECTED_DATA_TYPE"], "Missing: dropped"
    ),
    data_gate.Anomaly("eval", "(dataset)", ["DATASET_LOW_NUM_EXAMPLES"], "Too few"),
]
TABLE = (
    "| split | feature | anomaly | description |\n"
    "|---|---|---|---|\n"
    "| train | fare | SCHEMA_MISSING_COLUMN, UNEXPECTED_DATA_TYPE | Missing: dropped |\n"
    "| eval | (dataset) | DATASET_LOW_NUM_EXAMPLES | Too few |"
)


def test_the_table_has_one_row_per_anomaly() -> None:
    assert data_gate.format_anomalies(REPORTED) == TABLE


def test_a_failing_report_lists_every_anomaly(tmp_path: Path) -> None:
    out = tmp_path / "not" / "yet" / "there"  # created, parents included
    data_gate.write_report(REPORTED, str(out))
    text = (out / data_gate.REPORT_JSON).read_text()
    assert json.loads(text) == {
        "verdict": "FAIL",
        "anomalies": [
            {
                "split": "train",
                "feature": "fare",
                "kinds": ["SCHEMA_MISSING_COLUMN", "UNEXPECTED_DATA_TYPE"],
                "description": "Missing: dropped",
            },
            {
                "split": "eval",
                "feature": "(dataset)",
                "kinds": ["DATASET_LOW_NUM_EXAMPLES"],
                "description": "Too few",
            },
        ],
    }
    assert text.startswith('{\n "verdict": "FAIL",\n "anomalies": [\n  {\n')  # for people too
    assert (out / data_gate.REPORT_MARKDOWN).read_text() == f"## Data validation: FAIL\n\n{TABLE}\n"


def test_a_passing_report_says_so(tmp_path: Path) -> None:
    data_gate.write_report([], str(tmp_path))  # TFX creates the artifact folder beforehand
    assert json.loads((tmp_path / data_gate.REPORT_JSON).read_text()) == {
        "verdict": "PASS",
        "anomalies": [],
    }
    assert (
        tmp_path / data_gate.REPORT_MARKDOWN
    ).read_text() == "## Data validation: PASS\n\nNo anomalies: the data matches the schema.\n"


def _run_gate(tmp_path: Path, splits: list[str]) -> standard_artifacts.Artifact:
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    anomalies.split_names = artifact_utils.encode_split_names(splits)
    report = data_gate.DataValidationReport()
    report.uri = str(tmp_path / "report")
    (tmp_path / "report").mkdir()
    executor = data_gate.DataGate.EXECUTOR_SPEC.executor_class()
    executor.Do({"anomalies": [anomalies]}, {"report": [report]}, {})
    return report


def test_the_gate_stops_the_run_on_any_anomaly_and_says_what_to_do(tmp_path: Path) -> None:
    _anomalies(tmp_path / "anomalies", "train", {"trip_miles": TYPE})
    _anomalies(tmp_path / "anomalies", "eval", {}, dataset=TOO_FEW)
    with pytest.raises(data_gate.DataValidationError) as caught:
        _run_gate(tmp_path, ["train", "eval"])
    error = caught.value
    assert [(a.split, a.feature) for a in error.anomalies] == [
        ("train", "trip_miles"),
        ("eval", "(dataset)"),
    ]
    assert str(error) == (
        "data validation failed: 2 anomalies against the curated schema; Transform and Trainer "
        "did not run and nothing was pushed.\n"
        + data_gate.format_anomalies(error.anomalies)
        + "\nFix the data, or, if the change is intended, update "
        "models/schema/schema.pbtxt (draft one with `mlops schema draft`)."
    )
    # The report is written before the gate fails, for the runner to keep.
    report = json.loads((tmp_path / "report" / data_gate.REPORT_JSON).read_text())
    assert report["verdict"] == "FAIL" and len(report["anomalies"]) == 2


def test_one_anomaly_is_singular(tmp_path: Path) -> None:
    _anomalies(tmp_path / "anomalies", "train", {"trip_miles": TYPE})
    with pytest.raises(
        data_gate.DataValidationError,
        match=r"^data validation failed: "
        r"1 anomaly against",
    ):
        _run_gate(tmp_path, ["train"])


def test_clean_data_passes_the_gate_with_a_pass_verdict(tmp_path: Path) -> None:
    _anomalies(tmp_path / "anomalies", "train", {})
    _anomalies(tmp_path / "anomalies", "eval", {})
    report = _run_gate(tmp_path, ["train", "eval"])
    assert report.get_string_custom_property("verdict") == "PASS"
    assert (
        json.loads((tmp_path / "report" / data_gate.REPORT_JSON).read_text())["verdict"] == "PASS"
    )
