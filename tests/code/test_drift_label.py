"""The drift gate's label follows models/features.py, as the Transform computes it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from components.drift_gate import label_values
from models import features as F
from tests.support import project


def _same(got: np.ndarray, want: list[float]) -> None:
    np.testing.assert_array_equal(got, np.array(want, dtype=np.float64))


def test_taxi_label_is_tips_above_a_fifth_of_the_fare() -> None:
    """The taxi sample's rule (set on models.features whatever task `mlops init` configured)."""
    table = pa.table({"tips": [3.0, 1.0, None], "fare": [10.0, 10.0, 4.0]})
    with project.taxi_task():
        _same(label_values(table), [1.0, 0.0, np.nan])


def test_positive_class_multiclass_ids_and_regression_values(monkeypatch) -> None:
    monkeypatch.setattr(F, "LABEL_COLUMN", "y")
    monkeypatch.setattr(F, "TASK", "binary")
    monkeypatch.setattr(F, "POSITIVE_CLASS", "yes")
    _same(label_values(pa.table({"y": ["yes", "no", None]})), [1.0, 0.0, np.nan])
    monkeypatch.setattr(F, "TASK", "multiclass")
    monkeypatch.setattr(F, "CLASSES", ("b", "a"))
    # A value outside the classes is drift too: its own id, -1.
    _same(label_values(pa.table({"y": ["a", "b", "zz", None]})), [1.0, 0.0, -1.0, np.nan])
    monkeypatch.setattr(F, "CLASSES", ("2", "10"))
    _same(label_values(pa.table({"y": [10, 2]})), [1.0, 0.0])
    monkeypatch.setattr(F, "TASK", "regression")
    _same(label_values(pa.table({"y": [1.5, None]})), [1.5, np.nan])
