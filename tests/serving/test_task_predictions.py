"""What a served prediction must look like per task: the load test's check and `mlops predict`."""

from __future__ import annotations

import numpy as np
import pytest

from mlops.commands.predict import prediction_lines
from models import features as F
from serving.responses import check_prediction, check_predictions


@pytest.mark.parametrize(
    ("prediction", "problem"),
    [
        ([0.2, 0.5, 0.3], None),
        ([0.2, 0.5], "not 3 class probabilities"),
        ([0.2, 0.5, 0.9], "do not sum to 1"),
        ([1.2, -0.5, 0.3], "do not sum to 1"),
        ([0.2, "x", 0.8], "not 3 class probabilities"),
        (0.7, "not 3 class probabilities"),
    ],
)
def test_multiclass_serves_one_probability_per_class(prediction, problem) -> None:
    got = check_prediction(prediction, "multiclass", 3)
    assert got == problem if problem is None else (got is not None and problem in got)


@pytest.mark.parametrize(
    ("prediction", "problem"),
    [([1234.5], None), (-3.0, None), ([float("nan")], "not a number"), (["7"], "not a number")],
)
def test_regression_serves_any_finite_number(prediction, problem) -> None:
    got = check_prediction(prediction, "regression", 1)
    assert got == problem if problem is None else (got is not None and problem in got)


def test_binary_still_serves_a_probability() -> None:
    assert check_prediction([0.4], "binary", 1) is None
    assert "not a probability" in str(check_prediction([1234.5], "binary", 1))


def test_the_response_check_follows_the_projects_task(monkeypatch) -> None:
    body = b'{"predictions": [[0.1, 0.9], [0.6, 0.4]]}'
    monkeypatch.setattr(F, "TASK", "binary")
    assert "not a probability" in str(check_predictions(body, instances=2))
    monkeypatch.setattr(F, "TASK", "multiclass")
    monkeypatch.setattr(F, "CLASSES", ("a", "b"))
    assert check_predictions(body, instances=2) is None


def test_predict_prints_the_class_or_the_value(monkeypatch) -> None:
    monkeypatch.setattr(F, "TASK", "multiclass")
    monkeypatch.setattr(F, "CLASSES", ("cat", "dog", "eel"))
    monkeypatch.setattr(F, "LABEL_KEY", "animal")
    lines = prediction_lines(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]))
    assert lines == ["row  animal  probability", "  1  dog  0.7000", "  2  cat  0.5000"]
    monkeypatch.setattr(F, "TASK", "regression")
    monkeypatch.setattr(F, "LABEL_KEY", "rent")
    assert prediction_lines(np.array([[812.25]])) == ["row  rent", "  1  812.2500"]
