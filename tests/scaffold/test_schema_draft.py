"""The drafted schema: TFDV's inference curated from the plan, and strict enough that the data
gate stops a corrupt span of the same data while its own spans pass."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from components.data_gate import validate_span
from scaffold import plan, render, schema_draft
from tests.scaffold.test_decisions import dataset


@pytest.fixture(scope="module")
def drafted(tmp_path_factory) -> tuple[plan.Plan, list[Path], schema_pb2.Schema, str]:
    folder = tmp_path_factory.mktemp("schema")
    path = dataset(folder / "d.csv", label=lambda i, r: r.choice(["x", "y", "z"]))
    lines = path.read_text().splitlines()
    # One size missing: an optional column.
    cells = lines[5].split(",")
    cells[1] = ""
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    decided = plan.decide(plan.Request(path, "y", span_by="day"))
    spans = []
    for name, text in render.span_files(decided).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
        spans.append(folder / name)
    text = schema_draft.draft(decided, spans)
    return decided, spans, text_format.Parse(text, schema_pb2.Schema()), text


def test_curated_from_the_plan(drafted):
    decided, _, schema, text = drafted
    features = {f.name: f for f in schema.feature}
    assert set(features) == set(decided.table.columns)
    assert list(features["colour"].string_domain.value) == ["blue", "green", "red"]
    assert list(features["y"].string_domain.value) == ["x", "y", "z"]
    assert list(features["y"].not_in_environment) == ["SERVING"]
    assert features["rooms"].presence.min_fraction == 1.0
    assert features["size"].presence.min_fraction == 0 and features["size"].value_count.max == 1
    assert features["rooms"].int_domain.min == 0 and features["rooms"].int_domain.max >= 6
    sizes = decided.table.columns["size"].numbers()
    assert features["size"].float_domain.min < min(sizes) and features[
        "size"
    ].float_domain.max > max(sizes)
    assert text.count(f"\n{render.DRAFT}: ") == len(features)


def test_its_own_spans_pass_and_a_corrupt_span_is_stopped(drafted, tmp_path):
    _, spans, schema, _ = drafted
    for span in spans:
        assert validate_span([str(span)], schema)[0] == []
    good = spans[-1].read_text().splitlines()
    corrupt = [good[0]]
    for line in good[1:]:
        day, _size, _colour, rooms, label = line.split(",")
        corrupt.append(",".join([day, "-500.0", "purple", rooms, label]))
    bad = tmp_path / "span-5.csv"
    bad.write_text("\n".join(corrupt) + "\n")
    anomalies, _ = validate_span([str(bad)], schema)
    assert {a.feature for a in anomalies} == {"size", "colour"}
