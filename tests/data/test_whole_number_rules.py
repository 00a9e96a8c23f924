"""The whole-number rules of the data gate, on protos built by hand: which columns count as
whole-number FLOATs, the INT domain they are checked against, the bound named in the report,
and when the pipeline's gate reads statistics and schema at all.

tests/data/test_whole_numbers.py runs the same rules on CSV spans end to end; these pin each
rule's edge (an open domain end, a feature the schema does not type FLOAT, a split without
statistics) in milliseconds, so the mutation tests can hold every branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow_data_validation as tfdv
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx.types import artifact_utils, standard_artifacts

from components import data_gate
from store.rows import load_schema

SCHEMA = """
feature { name: "miles" type: FLOAT float_domain { min: -0.5 max: 9.5 } }
feature { name: "fare" type: FLOAT float_domain { min: 1.2 } }
feature { name: "tips" type: FLOAT float_domain { max: 7.8 } }
feature { name: "seconds" type: FLOAT }
feature { name: "kept" type: FLOAT float_domain { min: 0.5 } }
feature { name: "company" type: BYTES }
"""


def _schema() -> schema_pb2.Schema:
    return text_format.Parse(SCHEMA, schema_pb2.Schema())


def _feature(schema: schema_pb2.Schema, name: str) -> schema_pb2.Feature:
    (feature,) = [f for f in schema.feature if f.name == name]
    return feature


def test_a_float_domain_becomes_the_whole_numbers_inside_it() -> None:
    schema = _schema()
    derived = data_gate._as_integers(schema, {"miles", "fare", "tips", "seconds"})
    miles = _feature(derived, "miles")
    assert miles.type == schema_pb2.INT and not miles.HasField("float_domain")
    assert (miles.int_domain.min, miles.int_domain.max) == (0, 9)
    fare = _feature(derived, "fare")
    assert fare.int_domain.min == 2 and not fare.int_domain.HasField("max")
    tips = _feature(derived, "tips")
    assert tips.int_domain.max == 7 and not tips.int_domain.HasField("min")
    seconds = _feature(derived, "seconds")
    assert seconds.type == schema_pb2.INT and not seconds.HasField("int_domain")
    assert _feature(derived, "kept") == _feature(schema, "kept")  # not named: left as it was
    assert schema == _schema()  # a copy: the curated schema itself is untouched


def _statistics(**types: int) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One dataset; a name with `path_` first is given as a path step, not a name."""
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = stats.datasets.add()
    for name, kind in types.items():
        feature = dataset.features.add(type=kind)
        if name.startswith("path_"):
            feature.path.step.append(name.removeprefix("path_"))
        else:
            feature.name = name
    return stats


def test_whole_number_floats_are_schema_floats_the_statistics_typed_int() -> None:
    INT, FLOAT = (
        statistics_pb2.FeatureNameStatistics.INT,
        statistics_pb2.FeatureNameStatistics.FLOAT,
    )
    stats = _statistics(path_miles=INT, fare=INT, path_tips=FLOAT, company=INT, other=INT)
    assert data_gate._whole_number_floats(stats, _schema()) == {"miles", "fare"}
    assert data_gate._whole_number_floats(_statistics(), _schema()) == set()


def test_the_bound_named_is_the_end_of_the_domain_the_values_left() -> None:
    domain = _feature(_schema(), "miles").float_domain
    assert data_gate._bound(["INT_TYPE_SMALL_INT"], domain) == (
        " (below the domain's minimum -0.5: float_domain in the schema)"
    )
    assert data_gate._bound(["INT_TYPE_BIG_INT"], domain) == (
        " (above the domain's maximum 9.5: float_domain in the schema)"
    )
    assert data_gate._bound(["UNEXPECTED_DATA_TYPE"], domain) == ""
    assert data_gate._bound(["INT_TYPE_SMALL_INT"], None) == ""
    no_min = _feature(_schema(), "tips").float_domain
    assert data_gate._bound(["INT_TYPE_SMALL_INT"], no_min) == ""
    no_max = _feature(_schema(), "fare").float_domain
    assert data_gate._bound(["INT_TYPE_BIG_INT"], no_max) == ""


def test_an_anomaly_of_a_column_that_is_not_whole_numbers_is_left_as_tfdv_wrote_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without an anomaly on a whole-number column, the statistics are not validated again."""

    def validated_again(*args: object) -> None:
        raise AssertionError("validated again although no whole-number column has an anomaly")

    monkeypatch.setattr(tfdv, "validate_statistics", validated_again)
    stats = _statistics(path_miles=statistics_pb2.FeatureNameStatistics.INT)
    found = [data_gate.Anomaly("train", "fare", ["FLOAT_TYPE_SMALL_FLOAT"], "too small")]
    assert data_gate.explain_whole_numbers(found, stats, _schema()) == found
    assert data_gate.explain_whole_numbers(found, _statistics(), _schema()) == found


def _diff(root: Path, split: str) -> None:
    """A SchemaDiff.pb for `split`: miles has the type mismatch of a whole-number column."""
    proto = anomalies_pb2.Anomalies()
    info = proto.anomaly_info["miles"]
    info.short_description = "Unexpected data type"
    info.reason.add(
        type=anomalies_pb2.AnomalyInfo.UNEXPECTED_DATA_TYPE,
        description="Expected data of type: FLOAT but got INT",
    )
    (root / f"Split-{split}").mkdir(parents=True)
    (root / f"Split-{split}" / data_gate.SCHEMA_DIFF_FILE).write_bytes(proto.SerializeToString())


PLAIN = "Unexpected data type: Expected data of type: FLOAT but got INT"


def test_statistics_explain_only_the_splits_they_cover_and_only_with_a_schema(
    tmp_path: Path,
) -> None:
    _diff(tmp_path, "train")
    _diff(tmp_path, "eval")
    stats = {"train": _statistics(path_miles=statistics_pb2.FeatureNameStatistics.INT)}
    found = data_gate.read_anomalies(str(tmp_path), ["train", "eval"], stats, _schema())
    assert [(a.split, a.description) for a in found] == [
        ("train", f"{PLAIN}: {data_gate.WHOLE_NUMBERS}"),
        ("eval", PLAIN),  # no statistics for eval: TFDV's words
    ]
    for statistics, schema in ((stats, None), (None, _schema()), (None, None)):
        found = data_gate.read_anomalies(str(tmp_path), ["train"], statistics, schema)
        assert [a.description for a in found] == [PLAIN]


def test_the_gate_loads_statistics_and_schema_only_when_given_both(tmp_path: Path) -> None:
    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(tmp_path / "statistics")
    statistics.split_names = artifact_utils.encode_split_names(["train", "eval"])
    for split, name in (("train", "miles"), ("eval", "fare")):
        (tmp_path / "statistics" / f"Split-{split}").mkdir(parents=True)
        (tmp_path / "statistics" / f"Split-{split}" / "FeatureStats.pb").write_bytes(
            _statistics(**{name: statistics_pb2.FeatureNameStatistics.INT}).SerializeToString()
        )
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "schema.pbtxt").write_text(text_format.MessageToString(load_schema()))

    per_split, parsed = data_gate._load(statistics, schema, ["train", "eval"])
    assert parsed == load_schema()
    assert per_split is not None and sorted(per_split) == ["eval", "train"]
    assert per_split["train"] == _statistics(miles=statistics_pb2.FeatureNameStatistics.INT)
    assert per_split["eval"] == _statistics(fare=statistics_pb2.FeatureNameStatistics.INT)
    assert data_gate._load(None, schema, ["train"]) == (None, None)
    assert data_gate._load(statistics, None, ["train"]) == (None, None)


def test_a_span_of_headers_only_has_no_rows_and_no_anomalies(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("trip_miles,fare\n")
    assert data_gate.validate_span([str(csv)], load_schema()) == ([], 0)
    stats, rows = data_gate.span_statistics([str(csv)])
    assert (stats, rows) == (statistics_pb2.DatasetFeatureStatisticsList(), 0)


def test_blank_lines_in_a_span_are_skipped_not_counted(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("trip_miles,fare\n1.5,2.0\n\n2.5,3.0\n")
    stats, rows = data_gate.span_statistics([str(csv)])
    assert rows == 2
    assert stats.datasets[0].num_examples == 2
