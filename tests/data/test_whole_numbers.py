"""A FLOAT column of whole numbers: what the data gate says about it, in the pipeline and in
`mlops ct check`.

CsvExampleGen types a column INT when every cell is a whole number, and TFDV then reports only
"Expected data of type: FLOAT but got INT", hiding that trip_miles -3 is below the schema's
minimum. The gate must name the domain first (from the schema's float_domain), and still stop,
because the Transform reads the column as FLOAT.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils, standard_artifacts

from components import data_gate
from store import rows as R
from tests.support import ct_data as D
from tests.support import project


def load_schema():
    """The taxi sample's pinned schema (tests/fixtures/taxi): its trip_miles is the FLOAT column
    these rules are spelt out on, whatever `mlops init` made the project's schema."""
    return R.load_schema(project.TAXI_SCHEMA)


def _span(tmp_path: Path, **values: str) -> Path:
    rows = [dict(r, **values) for r in D.benign(D.read(project.TAXI_ROWS), 300, seed=11)]
    return D.write_span(tmp_path / "data", 1, rows)


def test_negative_whole_miles_are_below_the_domain_minimum(tmp_path: Path) -> None:
    found, rows = data_gate.validate_span([str(_span(tmp_path, trip_miles="-3"))], load_schema())
    assert rows == 300
    (anomaly,) = found
    assert (anomaly.split, anomaly.feature) == ("span", "trip_miles")
    assert anomaly.kinds == ["INT_TYPE_SMALL_INT", "UNEXPECTED_DATA_TYPE"]
    assert anomaly.description.startswith(
        "Out-of-range values: Unexpectedly small value: -3. (below the domain's minimum 0: "
        "float_domain in the schema); and every value in the column is a whole number"
    )
    assert anomaly.description.endswith("write the values with a decimal point (2.0, not 2)")


def test_whole_miles_inside_the_domain_still_stop_and_say_why(tmp_path: Path) -> None:
    found, _ = data_gate.validate_span([str(_span(tmp_path, trip_miles="2"))], load_schema())
    (anomaly,) = found
    assert (anomaly.split, anomaly.feature) == ("span", "trip_miles")
    assert anomaly.kinds == ["UNEXPECTED_DATA_TYPE"]
    assert anomaly.description == (
        "Unexpected data type: Expected data of type: FLOAT but got INT: " + data_gate.WHOLE_NUMBERS
    )


def test_decimal_miles_below_the_minimum_keep_tfdvs_own_words(tmp_path: Path) -> None:
    found, _ = data_gate.validate_span([str(_span(tmp_path, trip_miles="-3.5"))], load_schema())
    (anomaly,) = found
    assert anomaly.kinds == ["FLOAT_TYPE_SMALL_FLOAT"]
    assert "-3.5<0" in anomaly.description and data_gate.WHOLE_NUMBERS not in anomaly.description


def _artifacts(tmp_path: Path, csv: Path) -> dict[str, list]:
    """ExampleAnomalies, ExampleStatistics and Schema artifacts as the pipeline writes them."""
    stats, _ = data_gate.span_statistics([str(csv)])
    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    anomalies.split_names = artifact_utils.encode_split_names(["train"])
    (tmp_path / "anomalies" / "Split-train").mkdir(parents=True)
    (tmp_path / "anomalies" / "Split-train" / data_gate.SCHEMA_DIFF_FILE).write_bytes(
        tfdv.validate_statistics(stats, load_schema()).SerializeToString()
    )
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(tmp_path / "statistics")
    statistics.split_names = artifact_utils.encode_split_names(["train"])
    (tmp_path / "statistics" / "Split-train").mkdir(parents=True)
    (tmp_path / "statistics" / "Split-train" / "FeatureStats.pb").write_bytes(
        stats.SerializeToString()
    )
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text(project.TAXI_SCHEMA.read_text())
    return {"anomalies": [anomalies], "statistics": [statistics], "schema": [schema]}


def test_the_pipelines_data_gate_says_the_same(tmp_path: Path) -> None:
    report = data_gate.DataValidationReport()
    report.uri = str(tmp_path / "report")
    (tmp_path / "report").mkdir()
    executor = data_gate.DataGate.EXECUTOR_SPEC.executor_class()
    inputs = _artifacts(tmp_path, _span(tmp_path, trip_miles="-3"))
    with pytest.raises(data_gate.DataValidationError) as caught:
        executor.Do(inputs, {"report": [report]}, {})
    (anomaly,) = caught.value.anomalies
    assert (anomaly.split, anomaly.feature) == ("train", "trip_miles")
    assert "below the domain's minimum 0" in anomaly.description
    assert "below the domain's minimum 0" in str(caught.value)
