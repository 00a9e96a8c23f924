"""The request-log store and the logger's parsing, without servers: rows keep only the
configured fields, the folder is rotated and bounded, and bad lines or stores are told apart."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from serving.example_wire import parse_example
from serving.request_logger import rows_of
from store import request_log as L
from store import rows as R
from tests.support import project


@pytest.fixture(scope="module")
def rows() -> list[R.Row]:
    """Real rows of every type (floats, integers, text, gaps): the taxi sample's pinned ones."""
    return R.read_csv(project.TAXI_ROWS, R.load_schema(project.TAXI_SCHEMA), limit=50)


def test_the_wire_reader_reads_what_tensorflow_wrote(rows: list[R.Row]) -> None:
    from tensorflow.core.example import example_pb2

    for row in rows:
        data = R.to_example(row)
        parsed = parse_example(data)
        example = example_pb2.Example.FromString(data)
        expected = {}
        for name, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value)
            expected[name] = [round(v, 6) for v in values] if kind == "float_list" else values
        assert parsed == expected


def _tensorflow_example(row: R.Row) -> bytes:
    """The same row through TensorFlow's own Example message."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    for name, values in row.items():
        if not values:
            continue
        feature = example.features.feature[name]
        kind = {bytes: "bytes_list", float: "float_list"}.get(type(values[0]), "int64_list")
        getattr(feature, kind).value.extend(values)
    return example.SerializeToString(deterministic=True)


def test_requests_are_the_examples_tensorflow_builds(rows: list[R.Row]) -> None:
    """`to_example` writes tf.Example without TensorFlow: each row, and one with a negative
    integer, several values, a float beyond float32 and an empty feature, parses in TensorFlow
    to the message TensorFlow builds itself."""
    from tensorflow.core.example import example_pb2

    odd: R.Row = {"a": [-3, 0, 2**40], "b": [b"x", b"", "é".encode()], "c": [1e40, -0.5], "d": []}
    for row in [*rows, odd, {}]:
        ours = example_pb2.Example.FromString(R.to_example(row))
        assert ours.SerializeToString(deterministic=True) == _tensorflow_example(row), row


def test_a_predict_body_gives_its_rows_and_counts_what_is_not_one(rows: list[R.Row]) -> None:
    b64 = [base64.b64encode(R.to_example(r)).decode() for r in rows[:3]]
    body = {"instances": [{"b64": b64[0]}, {"examples": {"b64": b64[1]}}, {"b64": "!!"}, 7]}
    found = list(rows_of(json.dumps(body).encode()))
    assert [r is None for r in found] == [False, False, True, True]
    assert set(found[0] or {}) == set(parse_example(R.to_example(rows[0])))
    columnar = list(rows_of(json.dumps({"inputs": {"examples": [{"b64": b64[2]}]}}).encode()))
    assert columnar[0] is not None and "fare" in columnar[0]
    assert list(rows_of(b"not json")) == [None]


def test_only_configured_fields_are_kept_and_the_folder_is_bounded(tmp_path: Path) -> None:
    writer = L.Writer(tmp_path, ["fare", "company"], max_file_bytes=2048, max_files=3)
    row = {"fare": [12.5], "company": ["Taxi Co"], "passenger_name": ["Ada"]}
    for _ in range(400):
        writer.append([row])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) <= 3 and L.CURRENT in files
    assert sum((tmp_path / f).stat().st_size for f in files) <= 3 * (2048 + 200)
    window = L.read_window(tmp_path, 10)
    assert len(window.rows) == 10 and window.skipped == 0
    assert all(set(r) == {L.TIME, "fare", "company"} for r in window.rows)
    assert "Ada" not in "".join((tmp_path / f).read_text() for f in files)


def test_the_window_is_the_newest_rows_across_rotated_files(tmp_path: Path) -> None:
    writer = L.Writer(tmp_path, ["n"], max_file_bytes=1024, max_files=100)
    for n in range(300):
        writer.append([{"n": [n]}])
    window = L.read_window(tmp_path, 120)
    assert [r["n"][0] for r in window.rows] == list(range(180, 300))
    assert window.files > 1


def test_a_malformed_line_is_skipped_and_counted(tmp_path: Path) -> None:
    L.Writer(tmp_path, ["n"], 4096, 3).append([{"n": [1]}, {"n": [2]}])
    with (tmp_path / L.CURRENT).open("a") as f:
        f.write('{"n": [3\n[1, 2]\n')
    L.Writer(tmp_path, ["n"], 4096, 3).append([{"n": [4]}])
    window = L.read_window(tmp_path, 100)
    assert [r["n"] for r in window.rows] == [[1], [2], [4]]
    assert window.skipped == 2 and f"{L.CURRENT}:3: not JSON" in window.first_problem


def test_a_missing_or_unreadable_store_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such folder"):
        L.read_window(tmp_path / "nowhere", 10)
    with pytest.raises(ConfigError, match="sampling is off"):
        L.read_window("", 10)
    (tmp_path / L.CURRENT).write_bytes(b"\xff\xfe not text")
    with pytest.raises(ConfigError, match="unreadable"):
        L.read_window(tmp_path, 10)
