"""The label logic, time parts and model head follow models/features.py's TASK.

Each test sets the task the way `mlops init` writes it (monkeypatched on models.features) and
runs the Transform's label function and the model builder eagerly on a handful of rows.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import features as F
from models import preprocessing as P
from models.model import build_model


def _strings(*values: str) -> tf.Tensor:
    return tf.constant(list(values))


def _sparse(values: list[object], present: list[bool], dtype: tf.DType) -> tf.SparseTensor:
    """A [rows, 1] optional feature as the Transform sees it: missing rows hold no value."""
    rows = [i for i, p in enumerate(present) if p]
    return tf.SparseTensor(
        indices=[[i, 0] for i in rows],
        values=tf.constant([values[i] for i in rows], dtype=dtype),
        dense_shape=[len(values), 1],
    )


def _task(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    defaults = {
        "LABEL_THRESHOLD": None,
        "LABEL_THRESHOLD_OF": None,
        "POSITIVE_CLASS": None,
        "CLASSES": (),
        "LABEL_COLUMN": "y",
    }
    for name, value in {**defaults, **values}.items():
        monkeypatch.setattr(F, name, value)


def test_the_taxi_label_is_tips_above_a_fifth_of_the_fare(monkeypatch) -> None:
    _task(monkeypatch, TASK="binary", LABEL_COLUMN="tips", LABEL_THRESHOLD=0.2)
    monkeypatch.setattr(F, "LABEL_THRESHOLD_OF", "fare")
    label = P.label({"tips": tf.constant([3.0, 1.0, 0.0]), "fare": tf.constant([10.0, 10.0, 5.0])})
    assert label.numpy().tolist() == [1, 0, 0]


def test_binary_by_positive_class_strings_and_integers(monkeypatch) -> None:
    _task(monkeypatch, TASK="binary", POSITIVE_CLASS="yes")
    label = P.label({"y": _sparse(["yes", "no", "yes", ""], [True, True, True, False], tf.string)})
    # The last row has no label (a serving request): 0, a placeholder nothing reads.
    assert label.numpy().tolist() == [1, 0, 1, 0]
    _task(monkeypatch, TASK="binary", POSITIVE_CLASS="1")
    assert P.label({"y": tf.constant([1, 0, 1], tf.int64)}).numpy().tolist() == [1, 0, 1]


def test_multiclass_maps_each_class_to_its_index(monkeypatch) -> None:
    _task(monkeypatch, TASK="multiclass", CLASSES=("b", "a", "c"))
    label = P.label({"y": _strings("a", "b", "c", "a", "unknown")})
    assert label.dtype == tf.int64
    assert label.numpy().tolist() == [1, 0, 2, 1, -1]
    _task(monkeypatch, TASK="multiclass", CLASSES=("3", "1", "12"))
    label = P.label({"y": tf.constant([1, 12, 3], tf.int64)})
    assert label.numpy().tolist() == [1, 2, 0]


def test_regression_keeps_the_raw_value(monkeypatch) -> None:
    _task(monkeypatch, TASK="regression")
    label = P.label({"y": tf.constant([1.5, -2.25, 1000.0])})
    assert label.dtype == tf.float32
    assert label.numpy().tolist() == [1.5, -2.25, 1000.0]


def test_time_parts_of_iso_text_dates_and_unix_seconds() -> None:
    text = _sparse(
        ["2024-03-15 13:45:00", "2024-01-01", "2023-12-31T23:59:59Z", ""],
        [True, True, True, False],
        tf.string,
    )
    parts = {k: v.numpy().tolist() for k, v in P.time_parts(text).items()}
    # 2024-03-15 is a Friday (4), 2024-01-01 a Monday (0), 2023-12-31 a Sunday (6);
    # missing reads as 1970-01-01 00:00, a Thursday.
    assert parts == {"hour": [13, 0, 23, 0], "weekday": [4, 0, 6, 3], "month": [2, 0, 11, 0]}
    seconds = tf.constant([1710510300, 1704067200, 1709164800], tf.int64)  # ..., 2024-02-29 UTC
    parts = {k: v.numpy().tolist() for k, v in P.time_parts(seconds).items()}
    assert parts == {"hour": [13, 0, 0], "weekday": [4, 0, 3], "month": [2, 0, 1]}


def test_cyclical_features_put_late_evening_next_to_midnight(monkeypatch) -> None:
    monkeypatch.setattr(F, "CYCLICAL_PARTS", {"at": ("hour",)})
    out = P.cyclical_features("at", _strings("2024-01-01 23:00", "2024-01-01 00:00"))
    sin, cos = (out[name].numpy() for name in F.cyclical_names("at"))
    assert np.hypot(sin[0] - sin[1], cos[0] - cos[1]) < 0.3


def _tiny_model(monkeypatch: pytest.MonkeyPatch, task: str, classes: tuple[str, ...] = ()):
    for name, value in {
        "TASK": task,
        "CLASSES": classes,
        "ZSCORE_KEYS": ("x",),
        "QUANTILE_BUCKET_KEYS": (),
        "HOUR_KEY": None,
        "INTEGER_CATEGORICAL_SIZES": {"code": 3},
        "VOCABULARY_KEYS": (),
        "CYCLICAL_PARTS": {},
    }.items():
        monkeypatch.setattr(F, name, value)
    tf.keras.utils.set_random_seed(0)
    model = build_model([8], 0.01, 0, target_scale=(100.0, 10.0))
    features = {"x_xf": np.array([0.5, -1.0, 2.0], "float32"), "code_xf": np.array([0, 1, 2])}
    return model, model.predict(features, verbose=0)


def test_binary_head_is_one_sigmoid_probability_with_cross_entropy(monkeypatch) -> None:
    model, out = _tiny_model(monkeypatch, "binary")
    assert out.shape == (3, 1) and np.all((out >= 0) & (out <= 1))
    assert isinstance(model.loss, tf.keras.losses.BinaryCrossentropy)


def test_multiclass_head_is_a_softmax_over_the_classes(monkeypatch) -> None:
    model, out = _tiny_model(monkeypatch, "multiclass", ("a", "b", "c", "d"))
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    assert isinstance(model.loss, tf.keras.losses.SparseCategoricalCrossentropy)


def test_regression_head_is_linear_in_the_labels_units_with_mse(monkeypatch) -> None:
    model, out = _tiny_model(monkeypatch, "regression")
    assert out.shape == (3, 1)
    assert isinstance(model.loss, tf.keras.losses.MeanSquaredError)
    # Rescaled by the label's mean and spread: untrained outputs sit around the mean, 100.
    assert np.all(np.abs(out - 100.0) < 60.0) and not np.all((out >= 0) & (out <= 1))


def test_an_unknown_task_or_too_few_classes_is_refused_by_name(monkeypatch) -> None:
    with pytest.raises(ValueError, match="TASK 'ranking'"):
        _tiny_model(monkeypatch, "ranking")
    with pytest.raises(ValueError, match="2\\+ CLASSES"):
        _tiny_model(monkeypatch, "multiclass", ("only",))


def test_a_regression_heads_scale_is_the_training_labels_mean_and_spread(monkeypatch) -> None:
    from models.trainer import target_scale

    labels = tf.constant([10.0, 20.0, 30.0, 40.0])
    ds = tf.data.Dataset.from_tensor_slices(({"x": tf.zeros(4)}, labels)).batch(2).repeat()
    monkeypatch.setattr(F, "TASK", "regression")
    mean, std = target_scale(ds, batches=2)
    assert mean == pytest.approx(25.0) and std == pytest.approx(float(np.std([10, 20, 30, 40])))
    monkeypatch.setattr(F, "TASK", "multiclass")
    assert target_scale(ds) == (0.0, 1.0)
