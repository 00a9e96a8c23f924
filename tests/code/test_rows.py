"""Raw rows to typed features and tf.Examples: what every client and check sends the model."""

from __future__ import annotations

from pathlib import Path

import pytest
import tensorflow as tf

from components import rows as R

SCHEMA = R.load_schema()


def test_cells_are_typed_by_the_schema_and_empty_cells_are_missing() -> None:
    row = R.typed_row({"fare": "12.5", "trip_start_hour": "7", "payment_type": "Cash",
                       "trip_seconds": "", "tips": "3"}, SCHEMA)
    assert row["fare"] == [12.5] and row["trip_start_hour"] == [7]
    assert row["payment_type"] == [b"Cash"] and row["trip_seconds"] == []
    assert "tips" not in row  # serving rows leave out what only feeds the label
    assert R.typed_row({"tips": "3"}, SCHEMA, serving=False)["tips"] == [3.0]


@pytest.mark.parametrize(("raw", "message"), [
    ({"fare": "cheap"}, r"row: field 'fare': value 'cheap' is not a valid float"),
    ({"trip_start_hour": "7.5"}, r"field 'trip_start_hour': value '7.5' is not a valid int"),
    ({"fare": "nan"}, r"field 'fare': value 'nan' is not a valid float"),
    ({"fare": [1.0, 2.0]}, r"field 'fare': expected one value"),
    ({"colour": "red"}, r"unknown field\(s\) 'colour'"),
])
def test_bad_values_name_the_field_and_value(raw: dict, message: str) -> None:
    with pytest.raises(R.RowError, match=message):
        R.typed_row(raw, SCHEMA)


def test_csv_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("fare,trip_start_hour\n1.0,3\n2.0,noon\n")
    with pytest.raises(R.RowError, match=rf"{path}:3: field 'trip_start_hour': value 'noon'"):
        R.read_csv(path, SCHEMA)
    path.write_text("fare\n")
    with pytest.raises(R.RowError, match="no data rows"):
        R.read_csv(path, SCHEMA)


def test_examples_round_trip_through_tf_parsing() -> None:
    row = R.typed_row({"fare": "1.5", "trip_start_hour": "3", "company": "Taxi Co"}, SCHEMA)
    spec = {"fare": tf.io.VarLenFeature(tf.float32),
            "trip_start_hour": tf.io.VarLenFeature(tf.int64),
            "company": tf.io.VarLenFeature(tf.string),
            "trip_seconds": tf.io.VarLenFeature(tf.int64)}
    parsed = tf.io.parse_example(tf.constant(R.examples([row])), spec)
    assert parsed["fare"].values.numpy().tolist() == [1.5]
    assert parsed["trip_start_hour"].values.numpy().tolist() == [3]
    assert parsed["company"].values.numpy().tolist() == [b"Taxi Co"]
    assert parsed["trip_seconds"].values.numpy().tolist() == []
