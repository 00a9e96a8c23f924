"""The drafted files parse with the readers that will use them, and hold every row once."""

from __future__ import annotations

import csv
import io

import yaml
from tensorflow_metadata.proto.v0 import schema_pb2

from ct.drift import parse_thresholds
from scaffold import plan, render
from tests.scaffold.test_decisions import dataset


def _schema(decided: plan.Plan) -> schema_pb2.Schema:
    schema = schema_pb2.Schema()
    for name, column in decided.table.columns.items():
        kind = {"int": schema_pb2.INT, "float": schema_pb2.FLOAT}.get(column.kind, schema_pb2.BYTES)
        schema.feature.add(name=name, type=kind)
    return schema


def test_drift_yaml_parses_as_the_drift_gate_reads_it(tmp_path):
    decided = plan.decide(
        plan.Request(dataset(tmp_path / "d.csv"), "y", positive="a", span_by="day")
    )
    parsed = parse_thresholds(render.drift_yaml(decided), _schema(decided), label="y")
    got = {t.feature: (t.measure, t.threshold, t.label) for t in parsed}
    want = {d.feature: (d.measure, d.threshold, d.feature == "y") for d in decided.drift}
    assert got == want
    assert render.drift_yaml(decided).count(render.DRAFT) == len(decided.drift)


def test_regression_label_is_measured_as_a_number(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: f"{r.gauss(5, 2):.3f}")
    decided = plan.decide(plan.Request(path, "y", span_by="day"))
    parsed = parse_thresholds(render.drift_yaml(decided), _schema(decided), label="y")
    assert [(t.measure, t.label) for t in parsed if t.feature == "y"] == [("jensen_shannon", False)]


def test_task_spec_lists_every_column_once(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice(["x", "y", "z"]))
    decided = plan.decide(plan.Request(path, "y"))
    spec = yaml.safe_load(render.task_spec(decided))
    assert (spec["task"], spec["metric"], spec["lower_is_better"]) == (
        "multiclass",
        "accuracy",
        False,
    )
    named = []
    for entries in spec["roles"].values():
        named += [e if isinstance(e, str) else next(iter(e)) for e in entries]
    assert sorted(named) == sorted(n for n in decided.table.columns if n != "y")
    assert spec["roles"]["one_hot"] == [{"rooms": 7}]


def test_span_files_and_loadtest_rows(tmp_path):
    path = dataset(tmp_path / "d.csv")
    decided = plan.decide(plan.Request(path, "y", positive="a", span_by="day"))
    files = render.span_files(decided)
    assert sorted(files) == [f"span-{n}/data.csv" for n in range(1, 5)]
    original = list(csv.reader(io.StringIO(path.read_text())))
    rows = [r for text in files.values() for r in list(csv.reader(io.StringIO(text)))[1:]]
    assert sorted(rows) == sorted(original[1:])
    assert all(text.startswith(",".join(original[0]) + "\n") for text in files.values())
    first = list(csv.reader(io.StringIO(files["span-1/data.csv"])))[1:]
    assert {r[0][:7] for r in first} == {"2025-01"}
    held = list(csv.reader(io.StringIO(render.loadtest_csv(decided))))
    assert "y" not in held[0] and len(held) - 1 == len(decided.loadtest_rows)
    assert held[1] == original[1 + decided.loadtest_rows[0]][:4]
