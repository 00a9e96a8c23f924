"""`mlops init`'s decisions, from small CSV files written by each test.

Every bad input of issue 19 is a ConfigError (exit 2) naming the file, the column and the value;
every decision (task, roles, spans, baseline and floor, slices, drift thresholds) is pinned on
data whose right answer is known.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from core.errors import ConfigError
from scaffold import baseline, plan, roles, spans, table, task


def write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        if header:
            out.writerow(header)
        out.writerows(rows)
    return path


def dataset(path: Path, n: int = 400, label=lambda i, r: r.choice("ab")) -> Path:
    rng = random.Random(7)
    rows = [
        [
            f"2025-{1 + i * 4 // n:02d}-{1 + i % 28:02d}",
            f"{rng.gauss(10, 3):.2f}",
            rng.choice(["red", "green", "blue"]),
            rng.randint(0, 6),
            label(i, rng),
        ]
        for i in range(n)
    ]
    return write(path, ["day", "size", "colour", "rooms", "y"], rows)


def error(call) -> str:
    with pytest.raises(ConfigError) as caught:
        call()
    assert caught.value.exit_code == 2
    return str(caught.value)


# --- bad input: each names the file, the column and the value ------------------------------


def test_label_missing_names_the_columns(tmp_path):
    path = dataset(tmp_path / "d.csv")
    message = error(lambda: plan.decide(plan.Request(path, "target")))
    assert str(path) in message and "'target'" in message and "colour" in message


def test_one_class_label(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: "yes")
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert "one class only" in message and "'yes'" in message and "'y'" in message


def test_class_too_small_to_split(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: "rare" if i < 3 else r.choice("ab"))
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert "'rare'" in message and "3 row(s)" in message and str(path) in message


def test_no_header(tmp_path):
    path = write(tmp_path / "d.csv", [], [["2025-01-01", 1.5, "red", 3, "a"]] * 300)
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert "no header" in message and "'2025-01-01'" in message and str(path) in message


def test_mixed_types_names_the_odd_value_and_line(tmp_path):
    path = dataset(tmp_path / "d.csv")
    lines = path.read_text().splitlines()
    cells = lines[10].split(",")
    cells[1] = "about ten"
    lines[10] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert "'size'" in message and "'about ten'" in message and "line 11" in message


def test_invalid_feature_name(tmp_path):
    path = write(tmp_path / "d.csv", ["size (cm)", "y"], [[1, "a"]] * 300)
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert "'size (cm)'" in message and "not a valid feature name" in message


def test_span_column_that_does_not_parse(tmp_path):
    path = dataset(tmp_path / "d.csv")
    message = error(lambda: plan.decide(plan.Request(path, "y", span_by="colour")))
    assert "'colour'" in message and "line 2" in message and str(path) in message
    assert any(f"value {c!r}" in message for c in ("red", "green", "blue"))


def test_fewer_rows_than_the_gates_minimum(tmp_path):
    path = dataset(tmp_path / "d.csv", n=plan.MIN_ROWS - 1)
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert f"{plan.MIN_ROWS - 1} data rows" in message and str(path) in message


def test_unlabelled_row(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: "" if i == 5 else r.choice("ab"))
    message = error(lambda: plan.decide(plan.Request(path, "y")))
    assert "'y'" in message and "line 7" in message


def test_positive_not_a_label_value(tmp_path):
    path = dataset(tmp_path / "d.csv")
    message = error(lambda: plan.decide(plan.Request(path, "y", positive="c")))
    assert "--positive 'c'" in message and "a, b" in message


def test_bad_name(tmp_path):
    path = dataset(tmp_path / "d.csv")
    assert "--name 'My Model'" in error(
        lambda: plan.decide(plan.Request(path, "y", name="My Model"))
    )


# --- the task -------------------------------------------------------------------------------


def test_auto_reads_the_label(tmp_path):
    binary = plan.decide(plan.Request(dataset(tmp_path / "b.csv"), "y", positive="b"))
    assert (binary.task.kind, binary.task.positive, binary.task.metric) == ("binary", "b", "auc")
    many = plan.decide(
        plan.Request(dataset(tmp_path / "m.csv", label=lambda i, r: r.choice("xyz")), "y")
    )
    assert many.task.kind == "multiclass" and set(many.task.classes) == {"x", "y", "z"}
    assert many.task.metric == "accuracy" and not many.task.lower_is_better
    number = plan.decide(
        plan.Request(dataset(tmp_path / "r.csv", label=lambda i, r: f"{r.gauss(0, 1):.3f}"), "y")
    )
    assert number.task.kind == "regression" and number.task.metric == "rmse"
    assert number.task.lower_is_better


def test_binary_strings_default_to_the_rarer_value(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: "late" if i % 5 == 0 else "on_time")
    assert plan.decide(plan.Request(path, "y")).task.positive == "late"


def test_explicit_task_that_does_not_fit(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice("xyz"))
    assert "needs two values, found 3" in error(
        lambda: plan.decide(plan.Request(path, "y", task="binary"))
    )
    assert "needs numbers" in error(lambda: plan.decide(plan.Request(path, "y", task="regression")))


def test_few_integer_values_are_classes_many_are_a_quantity(tmp_path):
    classes = dataset(tmp_path / "c.csv", label=lambda i, r: r.randint(0, 4))
    assert plan.decide(plan.Request(classes, "y")).task.kind == "multiclass"
    counts = dataset(tmp_path / "q.csv", label=lambda i, r: r.randint(0, 500))
    assert plan.decide(plan.Request(counts, "y")).task.kind == "regression"


# --- roles ----------------------------------------------------------------------------------


def column(name: str, values: list[str | None]) -> table.Column:
    return table.Column(name, table._column_kind("t.csv", name, values), values)


def test_roles():
    n = 300
    rng = random.Random(3)
    cases: dict[str, list[str | None]] = {
        "price": [f"{rng.uniform(1, 9):.2f}" for _ in range(n)],
        "floor": [str(rng.randint(0, 9)) for _ in range(n)],
        "visitors": [str(rng.randint(0, 5000)) for _ in range(n)],
        "city": [rng.choice(["oslo", "rome", "lima"]) for _ in range(n)],
        "seen_at": [f"2025-03-0{1 + i % 9} 1{i % 10}:00:00" for i in range(n)],
        "start_timestamp": [str(1_735_689_600 + 3600 * (i % 50)) for i in range(n)],
        "order_id": [str(i) for i in range(n)],
        "token": [f"tok{i}x" for i in range(n)],
        "comment": [f"a long remark about thing {i} that was bought" for i in range(n)],
        "fax": [None if i % 10 else "5551234" for i in range(n)],
        "same": ["x"] * n,
    }
    got = {name: roles.decide_role(column(name, v), n) for name, v in cases.items()}
    assert {name: r.role for name, r in got.items()} == {
        "price": "zscore",
        "floor": "one_hot",
        "visitors": "zscore",
        "city": "vocabulary",
        "seen_at": "cyclical",
        "start_timestamp": "cyclical",
        "order_id": "unused",
        "token": "unused",
        "comment": "unused",
        "fax": "unused",
        "same": "unused",
    }
    assert got["floor"].size == 10
    assert got["seen_at"].parts == ("hour", "weekday", "month")
    assert "Unix seconds" in got["start_timestamp"].reason
    assert "id-like" in got["order_id"].reason and "id-like" in got["token"].reason
    assert "free text" in got["comment"].reason
    assert "near-empty" in got["fax"].reason and "90%" in got["fax"].reason


# --- spans ----------------------------------------------------------------------------------


def test_spans_by_month_are_numbered_in_time_order(tmp_path):
    path = write(
        tmp_path / "d.csv",
        ["when", "x", "y"],
        [[f"2025-0{3 - i % 3}-10", i, "ab"[i % 2]] for i in range(300)],
    )
    layout = spans.by_column(table.read_csv(path), "when", "month")
    assert layout.labels == ("2025-01", "2025-02", "2025-03")
    assert layout.of_row[:3] == (3, 2, 1) and layout.sizes() == [100, 100, 100]
    assert spans.by_column(table.read_csv(path), "when", "year").count == 1


def test_existing_span_layout(tmp_path):
    for n in (2, 5):
        (tmp_path / f"span-{n}").mkdir()
        dataset(tmp_path / f"span-{n}" / "data.csv", n=150)
    decided = plan.decide(plan.Request(tmp_path, "y", positive="a"))
    assert decided.spans.labels == ("span-2", "span-5") and decided.spans.sizes() == [150, 150]


def test_one_span_by_default(tmp_path):
    decided = plan.decide(plan.Request(dataset(tmp_path / "d.csv"), "y", positive="a"))
    assert decided.spans.count == 1 and decided.window_spans == 1
    assert all(d.observed is None for d in decided.drift)


# --- baseline, floors, slices, drift, sizes -------------------------------------------------


def test_regression_baseline_is_the_mean_and_the_bound_is_below_it():
    labels = [str(v) for v in [1.0, 3.0, 1.0, 5.0] * 50]
    measured = baseline.measure(task.Task("regression", "y"), labels)
    # Training mean (1 + 3 + 1) / 3 = 5/3; held out: every fourth value, 5.0.
    assert measured.baseline == pytest.approx(5 - 5 / 3, abs=1e-3)
    assert measured.lower_is_better and measured.floor < measured.baseline
    assert measured.beaten_by(measured.floor - 0.01) and not measured.beaten_by(measured.baseline)


def test_multiclass_floor_beats_the_majority_share():
    labels = ["a", "a", "b", "c"] * 60
    measured = baseline.measure(task.Task("multiclass", "y", classes=("a", "b", "c")), labels)
    assert measured.baseline == pytest.approx(0.0)  # every fourth row is "c", never "a"
    # Held out: "b" then "a", alternately; the training majority is "a".
    labels = ["a", "a", "a", "b", "a", "a", "c", "a"] * 40
    measured = baseline.measure(task.Task("multiclass", "y", classes=("a", "b", "c")), labels)
    assert measured.baseline == pytest.approx(0.5)
    assert measured.floor > measured.baseline and not measured.lower_is_better


def test_binary_floor_is_above_a_constant_score():
    measured = baseline.measure(task.Task("binary", "y", positive="1"), ["0", "1"] * 150)
    assert (measured.baseline, measured.metric) == (0.5, "auc") and measured.floor > 0.5


def test_slices_drift_and_small_data_sizes(tmp_path):
    path = dataset(tmp_path / "d.csv", n=400)
    decided = plan.decide(plan.Request(path, "y", positive="a", span_by="day", period="month"))
    assert decided.spans.count == 4 and decided.window_spans == 4
    assert decided.slices[0] == "colour"
    assert decided.min_examples == 50 and decided.batch_size < 128
    by_name = {d.feature: d for d in decided.drift}
    assert set(by_name) == {"size", "colour", "rooms", "y"}
    assert by_name["colour"].measure == "l_infinity" and by_name["size"].measure == "jensen_shannon"
    for d in by_name.values():
        assert d.observed is not None and d.threshold >= d.observed
    assert all(i % 4 == 3 for i in decided.loadtest_rows) and len(decided.loadtest_rows) == 100
    files = {f for f, _ in decided.review}
    assert {"models/features.py", "models/schema/drift.yaml", "models/task.yaml"} <= files


def test_span_by_on_a_span_layout_is_refused(tmp_path):
    (tmp_path / "span-1").mkdir()
    dataset(tmp_path / "span-1" / "data.csv", n=300)
    message = error(lambda: plan.decide(plan.Request(tmp_path, "y", span_by="day")))
    assert "already laid out as span-N folders" in message


def test_spans_with_different_headers_are_refused(tmp_path):
    for n in (1, 2):
        (tmp_path / f"span-{n}").mkdir()
    dataset(tmp_path / "span-1" / "data.csv", n=150)
    write(tmp_path / "span-2" / "data.csv", ["day", "size", "y"], [["2025-01-01", 1, "a"]] * 150)
    message = error(lambda: plan.decide(plan.Request(tmp_path, "y")))
    assert "span-2" in message and "same columns" in message


def test_a_binary_label_given_as_strings_needs_no_numbers(tmp_path):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: "churned" if i % 3 == 0 else "stayed")
    decided = plan.decide(plan.Request(path, "y", positive="churned"))
    assert decided.task.kind == "binary" and decided.task.positive == "churned"
    assert decided.baseline.metric == "auc" and decided.baseline.floor > decided.baseline.baseline
