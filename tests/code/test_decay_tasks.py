"""`mlops ct check` scores decay with the project's own task and metric: AUC for a binary model,
accuracy for a multiclass one, RMSE under `decay_ceiling` for a regression one, with the label made
by the Transform's rule. A span that cannot define the metric says decay was not measured, and why.

The task is switched by setting models/features.py's names in-process (as `mlops init` would write
them) on the taxi sample (its pinned schema, roles and config: project.taxi_sample, so this holds
after `mlops init` too), and the released model is a tiny SavedModel with a constant
output, so every expected score is computed here from the span itself.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from mlops import cli
from models import features as F
from pipeline import decay_score
from store import rows as R
from tests.support import ct_data as D
from tests.support import project
from tests.support.repo import copy_environments, update_overlay

MULTICLASS = ("Cash", "Credit Card")


@pytest.fixture(autouse=True)
def taxi_sample():
    """Every row here is a taxi row: the taxi sample is the project for each test."""
    with project.taxi_sample():
        yield


def constant_model(root: Path, outputs: list[float]) -> Path:
    """A real SavedModel with the served signature, answering `outputs` for every example."""
    import tensorflow as tf

    class Constant(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
            row = tf.constant([outputs], tf.float32)
            return {"outputs": tf.tile(row, [tf.shape(examples)[0], 1])}

    module = Constant()
    tf.saved_model.save(module, str(root), signatures={"serving_default": module.serve})
    return root


def as_regression(monkeypatch: pytest.MonkeyPatch) -> None:
    """The taxi data as a regression on the tip amount."""
    monkeypatch.setattr(F, "TASK", "regression")
    monkeypatch.setattr(F, "LABEL_THRESHOLD", None)
    monkeypatch.setattr(F, "LABEL_THRESHOLD_OF", None)
    monkeypatch.setattr(F, "LABEL_SOURCE_KEYS", ("tips",))


def as_multiclass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The taxi data as a multiclass task on the payment type (other payment types fall outside
    the classes, as values the schema would stop)."""
    monkeypatch.setattr(F, "TASK", "multiclass")
    monkeypatch.setattr(F, "LABEL_COLUMN", "payment_type")
    monkeypatch.setattr(F, "LABEL_THRESHOLD", None)
    monkeypatch.setattr(F, "LABEL_THRESHOLD_OF", None)
    monkeypatch.setattr(F, "CLASSES", MULTICLASS)
    monkeypatch.setattr(F, "LABEL_SOURCE_KEYS", ())


def typed(rows: list[dict[str, str]]) -> list[R.Row]:
    schema = R.load_schema(project.TAXI_SCHEMA)
    return [R.typed_row(r, schema, serving=False) for r in rows]


# --- the score on labels and outputs ------------------------------------------------------------


def test_binary_auc_ranks_the_probabilities() -> None:
    label = np.array([0, 0, 1, 1])
    score = decay_score.measure("auc", label, np.array([[0.1], [0.4], [0.35], [0.8]]), "binary")
    assert score.defined and score.count == 4
    assert score.value == pytest.approx(0.75, abs=1e-3)


def test_multiclass_accuracy_is_the_share_of_top_classes(monkeypatch) -> None:
    monkeypatch.setattr(F, "CLASSES", ("a", "b", "c"))
    label = np.array([0, 1, 2, 2, -1])  # -1: outside the classes, not scored
    outputs = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0, 0, 1], [1, 0, 0]])
    score = decay_score.measure("accuracy", label, outputs, "multiclass")
    assert (score.value, score.count) == (0.75, 4)


def test_regression_rmse_is_in_the_labels_units() -> None:
    label = np.array([1.0, 2.0, 3.0, 4.0])
    score = decay_score.measure("rmse", label, np.array([[1.0], [2.0], [3.0], [8.0]]), "regression")
    assert score.value == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("task", "metric", "label", "outputs", "why"),
    [
        ("binary", "auc", [], np.zeros((0, 1)), "has no labelled rows"),
        ("binary", "auc", [1, 1, 1], [[0.2], [0.9], [0.4]], "has labels of one class only (1)"),
        (
            "multiclass",
            "accuracy",
            [1, 1],
            [[0.9, 0.1], [0.1, 0.9]],
            "one class only (Credit Card)",
        ),
        ("multiclass", "accuracy", [-1, -1], [[0.9, 0.1], [0.1, 0.9]], "has no labelled rows"),
        ("regression", "rmse", [], np.zeros((0, 1)), "has no labelled rows"),
        ("regression", "rmse", [1.0, 2.0], [[1.0], [math.nan]], "outputs that are not numbers"),
    ],
)
def test_a_span_that_cannot_define_the_metric_is_undefined_with_a_reason(
    monkeypatch, task, metric, label, outputs, why
) -> None:
    monkeypatch.setattr(F, "CLASSES", MULTICLASS)
    score = decay_score.measure(metric, np.array(label), np.array(outputs), task)
    assert math.isnan(score.value) and not score.defined
    assert why in score.why


def test_each_task_scores_the_metrics_its_evaluator_gates() -> None:
    from models import evaluation

    for task, classes in evaluation.TASK_METRIC_CLASSES.items():
        assert set(decay_score.TASK_METRICS[task]) == set(classes), task
    assert "not accuracy (evaluation.metric)" in decay_score.unsupported("accuracy", "regression")
    assert decay_score.unsupported("rmse", "regression") == ""


# --- the label, by the Transform's rule -----------------------------------------------------------


def test_the_binary_label_is_the_transforms_threshold_on_the_fare() -> None:
    """In float32, as the Transform computes it: a tip on the 20% line (5.01 of 25.05, row 107
    of span 1) is a big tip there, and so here, though float64 arithmetic says otherwise."""
    raw = D.bundled_span(1)[:300]
    tips = np.array([float(r["tips"]) for r in raw], np.float32)
    fare = np.array([float(r["fare"]) for r in raw], np.float32)
    expected = (tips > fare * np.float32(F.LABEL_THRESHOLD)).astype(int)
    assert list(decay_score.labels(typed(raw))) == list(expected)
    assert expected[106] == 1 and not D.big_tipper(raw[106])


def test_the_multiclass_label_is_the_class_index(monkeypatch) -> None:
    as_multiclass(monkeypatch)
    raw = D.bundled_span(1)[:300]
    expected = [
        MULTICLASS.index(r["payment_type"]) if r["payment_type"] in MULTICLASS else -1 for r in raw
    ]
    assert list(decay_score.labels(typed(raw))) == expected
    assert {0, 1, -1} <= set(expected)


def test_the_regression_label_is_the_raw_value(monkeypatch) -> None:
    as_regression(monkeypatch)
    raw = D.bundled_span(1)[:300]
    got = decay_score.labels(typed(raw))
    assert got == pytest.approx([float(r["tips"]) for r in raw], abs=1e-4)


def test_a_binary_label_by_positive_class(monkeypatch) -> None:
    monkeypatch.setattr(F, "LABEL_COLUMN", "payment_type")
    monkeypatch.setattr(F, "POSITIVE_CLASS", "Cash")
    raw = D.bundled_span(1)[:300]
    got = decay_score.labels(typed(raw))
    assert list(got) == [int(r["payment_type"] == "Cash") for r in raw]


# --- `mlops ct check`, end to end -----------------------------------------------------------------


def _released(tmp_path: Path, model: Path, config: dict) -> tuple[Path, Path]:
    """dev released now on spans 1-2, with a benign span 3 it was not trained on."""
    environments = copy_environments(tmp_path)
    update_overlay(environments, "base", project.TAXI_CONFIG)
    update_overlay(environments, "dev", config)
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), 1200, seed=number))
    D.write_span(data, 3, D.benign(D.read(), 1200, seed=3))
    D.write_dev_release(environments, model, data)
    return environments, data


def _check(tmp_path: Path, environments: Path, data: Path, capsys) -> tuple[int, str]:
    argv = ["--environments", str(environments), "ct", "check", "--env", "dev"]
    code = cli.main([*argv, "--data", str(data), "--output", str(tmp_path / "work")])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out + err


def _span_3(data: Path) -> list[dict[str, str]]:
    with (data / "span-3" / "data.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _regression_config(ceiling: float) -> dict:
    return {
        "evaluation": {"metric": "rmse", "lower_bound": None, "upper_bound": 5.0},
        "continuous_training": {"decay_floor": None, "decay_ceiling": ceiling},
    }


@pytest.mark.parametrize("margin", [-0.05, 0.05])
def test_regression_decay_is_an_rmse_over_the_ceiling(
    tmp_path, monkeypatch, capsys, margin
) -> None:
    """A constant prediction of 1.0: the span's RMSE is known, and a ceiling just under it is
    decay while one just over it is not (lower is better)."""
    as_regression(monkeypatch)
    tips = np.array([float(r["tips"]) for r in D.benign(D.read(), 1200, seed=3)], np.float32)
    rmse = float(np.sqrt(np.mean((1.0 - tips.astype(float)) ** 2)))
    ceiling = round(rmse + margin, 4)
    model = constant_model(tmp_path / "model", [1.0])
    environments, data = _released(tmp_path, model, _regression_config(ceiling))
    code, text = _check(tmp_path, environments, data, capsys)
    if margin < 0:
        assert code == 0, text
        assert (
            f"decay: the released model's rmse on span 3 is {rmse:.4f} > ceiling {ceiling} " in text
        )
        assert "(continuous_training.decay_ceiling; 1200 labelled rows)" in text
    else:
        assert f"released model's rmse on span 3: {rmse:.4f} (ceiling {ceiling})" in text, text
        assert "decay:" not in text


def test_multiclass_decay_is_an_accuracy_under_the_floor(tmp_path, monkeypatch, capsys) -> None:
    """Always "Cash": the accuracy is the share of cash rows among the classes' rows."""
    as_multiclass(monkeypatch)
    model = constant_model(tmp_path / "model", [0.9, 0.1])
    config = {
        "evaluation": {"metric": "accuracy", "lower_bound": 0.6},
        "continuous_training": {"decay_floor": 0.99},
    }
    environments, data = _released(tmp_path, model, config)
    payments = [r["payment_type"] for r in _span_3(data) if r["payment_type"] in MULTICLASS]
    accuracy = payments.count("Cash") / len(payments)
    code, text = _check(tmp_path, environments, data, capsys)
    assert code == 0, text
    assert (
        f"decay: the released model's accuracy on span 3 is {accuracy:.4f} < floor 0.99 "
        f"(continuous_training.decay_floor; {len(payments)} labelled rows)"
    ) in text


def test_binary_decay_is_an_auc_under_the_floor(tmp_path, monkeypatch, capsys) -> None:
    """A constant probability ranks nothing: AUC 0.5, under the base floor of 0.78."""
    environments, data = _released(tmp_path, constant_model(tmp_path / "model", [0.3]), {})
    code, text = _check(tmp_path, environments, data, capsys)
    assert code == 0, text
    assert "decay: the released model's auc on span 3 is 0.5000 < floor 0.78 " in text


def test_a_single_class_span_says_decay_cannot_be_measured(tmp_path, monkeypatch, capsys) -> None:
    """A floor that any model would meet, on a span where every label is one class:
    not a silent "no decay", a note that names the span and the reason."""
    as_multiclass(monkeypatch)
    monkeypatch.setattr(F, "CLASSES", ("Cash", "Mobile"))  # span 3 holds next to no "Mobile"
    model = constant_model(tmp_path / "model", [0.9, 0.1])
    config = {
        "evaluation": {"metric": "accuracy", "lower_bound": 0.6},
        "continuous_training": {"decay_floor": 0.0},
    }
    environments, data = _released(tmp_path, model, config)
    rows = [r for r in D.benign(D.read(), 1200, seed=3) if r["payment_type"] != "Mobile"]
    D.write_span(data, 3, rows)
    code, text = _check(tmp_path, environments, data, capsys)
    assert code == 0 and "  - new span 3 since" in text, text  # the new span, not decay
    assert (
        "decay not measured: span 3 has labels of one class only (Cash), so accuracy is "
        "undefined there"
    ) in text
    assert "released model's accuracy on span 3:" not in text
    assert "decay:" not in text
