"""Raw rows to typed features and tf.Examples: what every client and check sends the model."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import tensorflow as tf

from store import rows as R
from tests.support import project

# The row reader on the taxi sample's pinned rows and schema (tests/fixtures/taxi): what these
# tests spell out cell by cell stays true after `mlops init` replaces the sample.
SCHEMA = R.load_schema(project.TAXI_SCHEMA)
DATA = project.TAXI_ROWS
# One serving row with every required feature, as CSV cells.
COMPLETE = {
    "fare": "12.5",
    "trip_start_month": "5",
    "trip_start_hour": "7",
    "trip_start_day": "3",
    "trip_start_timestamp": "1400269500",
    "trip_miles": "2.1",
    "payment_type": "Cash",
}
REQUIRED = sorted(f.name for f in R.serving_features(SCHEMA) if R.is_required(f))


def test_the_complete_row_holds_exactly_the_required_serving_features() -> None:
    assert sorted(COMPLETE) == REQUIRED


def test_cells_are_typed_by_the_schema_and_empty_cells_are_missing() -> None:
    row = R.typed_row({**COMPLETE, "trip_seconds": "", "tips": "3"}, SCHEMA)
    assert row["fare"] == [12.5] and row["trip_start_hour"] == [7]
    assert row["payment_type"] == [b"Cash"] and row["trip_seconds"] == []
    assert "tips" not in row  # serving rows leave out what only feeds the label
    assert R.typed_row({**COMPLETE, "tips": "3"}, SCHEMA, serving=False)["tips"] == [3.0]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fare": "cheap"}, r"row: field 'fare': value 'cheap' is not a valid float"),
        ({"trip_start_hour": "7.5"}, r"field 'trip_start_hour': value '7.5' is not a valid int"),
        ({"fare": "nan"}, r"field 'fare': value 'nan' is not a valid float"),
        ({"fare": [1.0, 2.0]}, r"field 'fare': expected one value"),
        ({"colour": "red"}, r"unknown field\(s\) 'colour'"),
        ({"fare": ""}, r"row: required field 'fare' has no value .*presence min_fraction 1.0"),
        ({"payment_type": None}, r"row: required field 'payment_type' has no value"),
    ],
)
def test_bad_values_name_the_field_and_value(raw: dict, message: str) -> None:
    with pytest.raises(R.RowError, match=message):
        R.typed_row({**COMPLETE, **raw}, SCHEMA)


@pytest.mark.parametrize("name", REQUIRED)
def test_a_row_without_a_required_feature_is_refused(name: str) -> None:
    """Without the check the Transform fills in the mean and the probability silently moves."""
    raw = {k: v for k, v in COMPLETE.items() if k != name}
    with pytest.raises(R.RowError, match=rf"row: required field '{name}' has no value"):
        R.typed_row(raw, SCHEMA)
    row = R.typed_row(COMPLETE, SCHEMA)
    row[name] = []
    with pytest.raises(R.RowError, match=rf"row 1: required field '{name}' has no value"):
        R.examples([row], SCHEMA)


def test_value_counts_come_from_the_schema() -> None:
    row = R.typed_row(COMPLETE, SCHEMA)
    row["company"] = [b"A", b"B"]
    with pytest.raises(
        R.RowError,
        match=r"row 1: field 'company' has 2 values, the schema's "
        r"value_count allows 0\.\.1",
    ):
        R.examples([row], SCHEMA)


def _write(path: Path, header: list[str], *rows: list[str]) -> Path:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return path


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    header = list(COMPLETE)
    good = list(COMPLETE.values())
    path = _write(tmp_path / "rows.csv", header, good, [*good[:2], "noon", *good[3:]])
    with pytest.raises(R.RowError, match=rf"{path}:3: field 'trip_start_hour': value 'noon'"):
        R.read_csv(path, SCHEMA)
    _write(path, header)
    with pytest.raises(R.RowError, match="no data rows"):
        R.read_csv(path, SCHEMA)
    path.write_text("")
    with pytest.raises(R.RowError, match=rf"{path}: empty file"):
        R.read_csv(path, SCHEMA)


def test_a_csv_without_a_required_column_names_it(tmp_path: Path) -> None:
    """The issue's case: the bundled rows without `fare` were answered, 0.7149 became 0.6903."""
    with DATA.open() as f:
        table = list(csv.reader(f))[:4]
    col = table[0].index("fare")
    path = _write(tmp_path / "nofare.csv", *[r[:col] + r[col + 1 :] for r in table])
    with pytest.raises(
        R.RowError,
        match=rf"{path}:1 \(header\): required column\(s\) 'fare' "
        r"missing",
    ):
        R.read_csv(path, SCHEMA)


def test_a_misspelt_header_names_the_column_it_hides(tmp_path: Path) -> None:
    header = ["fair" if c == "fare" else c for c in COMPLETE]
    path = _write(tmp_path / "typo.csv", header, list(COMPLETE.values()))
    with pytest.raises(
        R.RowError,
        match=rf"{path}:1 \(header\): unknown column 'fair' \(did you "
        r"mean 'fare'\?\); required column\(s\) 'fare' missing",
    ):
        R.read_csv(path, SCHEMA)


def test_a_short_or_long_row_is_refused(tmp_path: Path) -> None:
    """A row with 3 of 17 cells was accepted, the rest taken as missing."""
    with DATA.open() as f:
        table = list(csv.reader(f))[:3]
    path = _write(tmp_path / "short.csv", table[0], table[1], table[2][:3])
    with pytest.raises(R.RowError, match=rf"{path}:3: 3 cells, the header has 18 columns"):
        R.read_csv(path, SCHEMA)
    path = _write(tmp_path / "long.csv", table[0], [*table[1], "extra"])
    with pytest.raises(R.RowError, match=rf"{path}:2: 19 cells, the header has 18 columns"):
        R.read_csv(path, SCHEMA)


def test_the_bundled_data_reads_in_full() -> None:
    rows = R.read_csv(DATA, SCHEMA, limit=200)
    assert len(rows) == 200 and all(r["fare"] for r in rows)


def test_examples_round_trip_through_tf_parsing() -> None:
    row = R.typed_row(
        {**COMPLETE, "fare": "1.5", "trip_start_hour": "3", "company": "Taxi Co"}, SCHEMA
    )
    spec = {
        "fare": tf.io.VarLenFeature(tf.float32),
        "trip_start_hour": tf.io.VarLenFeature(tf.int64),
        "company": tf.io.VarLenFeature(tf.string),
        "trip_seconds": tf.io.VarLenFeature(tf.int64),
    }
    parsed = tf.io.parse_example(tf.constant(R.examples([row], SCHEMA)), spec)
    assert parsed["fare"].values.numpy().tolist() == [1.5]
    assert parsed["trip_start_hour"].values.numpy().tolist() == [3]
    assert parsed["company"].values.numpy().tolist() == [b"Taxi Co"]
    assert parsed["trip_seconds"].values.numpy().tolist() == []


# --- Domains: what the data gate (ExampleValidator on the curated schema) would refuse ---


@pytest.mark.parametrize(
    ("field", "cell", "problem"),
    [
        (
            "payment_type",
            "Bitcoin",
            "is not in domain 'payment_type' of schema.pbtxt (Cash, Credit Card, Dispute, "
            "No Charge, Pcard, Prcard, Unknown)",
        ),
        ("fare", "-50", "is below the minimum 0 (float_domain of schema.pbtxt)"),
        ("fare", "10000.5", "is above the maximum 10000 (float_domain of schema.pbtxt)"),
        ("fare", "1e309", "is not finite"),
        ("fare", "-inf", "is not finite"),
        ("fare", "1e39", "does not fit the 32-bit float a tf.Example holds"),
        ("trip_start_hour", "24", "is above the maximum 23 (int_domain of schema.pbtxt)"),
        ("trip_start_hour", "-1", "is below the minimum 0 (int_domain of schema.pbtxt)"),
        (
            "trip_start_timestamp",
            "86400",
            "is below the minimum 946684800 (int_domain of schema.pbtxt)",
        ),
        ("trip_miles", "-0.5", "is below the minimum 0 (float_domain of schema.pbtxt)"),
        ("pickup_latitude", "40.9", "is below the minimum 41 (float_domain of schema.pbtxt)"),
        ("dropoff_longitude", "-86.5", "is above the maximum -87 (float_domain of schema.pbtxt)"),
        ("pickup_census_tract", str(2**63), "does not fit the 64-bit integer a tf.Example holds"),
    ],
)
def test_values_the_data_gate_refuses_are_refused_naming_row_field_and_value(
    field: str, cell: str, problem: str
) -> None:
    with pytest.raises(R.RowError) as caught:
        R.typed_row({**COMPLETE, field: cell}, SCHEMA, where="rows.csv:7")
    assert str(caught.value) == (
        f"rows.csv:7: field {field!r}: value {cell!r} {problem}; the data gate refuses it"
    )


@pytest.mark.parametrize(
    ("field", "cell"),
    [
        ("fare", "0"),
        ("fare", "10000"),
        ("fare", "10000.0000001"),  # 10000 as the float32 a tf.Example holds: the gate takes it
        ("trip_start_hour", "0"),
        ("trip_start_hour", "23"),
        ("trip_start_timestamp", "946684800"),
        ("payment_type", "No Charge"),
        ("pickup_latitude", "43"),
        ("company", "Any Cab Co"),  # no domain in the schema: any string
        ("pickup_census_tract", str(2**63 - 1)),  # no domain: anything a tf.Example holds
    ],
)
def test_values_on_the_edges_of_the_domains_are_accepted(field: str, cell: str) -> None:
    row = R.typed_row({**COMPLETE, field: cell}, SCHEMA)
    assert len(row[field]) == 1


def test_a_csv_row_outside_a_domain_names_the_file_line_and_value(tmp_path: Path) -> None:
    header = list(COMPLETE)
    good = list(COMPLETE.values())
    bad = [("-50" if c == "fare" else v) for c, v in COMPLETE.items()]
    path = _write(tmp_path / "rows.csv", header, good, good, bad)
    with pytest.raises(R.RowError) as caught:
        R.read_csv(path, SCHEMA)
    assert str(caught.value).startswith(f"{path}:4: field 'fare': value '-50' is below the minimum")


def test_typed_rows_built_in_code_are_checked_before_they_become_examples() -> None:
    """`predict` and the load test send R.examples(rows); a row typed elsewhere is held to the
    same domains as a CSV cell."""
    row = R.typed_row(COMPLETE, SCHEMA)
    assert R.examples([row], SCHEMA)
    cases: list[tuple[str, R.Value, str]] = [
        ("payment_type", b"Bitcoin", "is not in domain 'payment_type'"),
        ("fare", -50.0, "is below the minimum 0"),
        ("fare", float("inf"), "is not finite"),
        ("trip_start_day", 8, "is above the maximum 7"),
    ]
    for field, value, problem in cases:
        with pytest.raises(R.RowError) as caught:
            R.examples([row, {**row, field: [value]}], SCHEMA)
        assert str(caught.value).startswith(f"row 2: field {field!r}: value {value!r} {problem}")


def test_the_bundled_spans_are_inside_every_domain() -> None:
    """The data gate passes every span of the project's data against its curated schema, so the
    row reader must take every row of them (on the taxi sample: two spans of 7,501 trips)."""
    read = [len(R.read_csv(p, R.load_schema(), serving=False)) for p in project.SPANS]
    lines = []
    for path in project.SPANS:
        with path.open(newline="") as f:
            lines.append(sum(1 for _ in csv.reader(f)) - 1)
    assert read == lines and read
    if project.IS_TAXI_SAMPLE:
        assert read == [7501, 7501]
