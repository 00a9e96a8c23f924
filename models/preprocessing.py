"""The Transform step: feature engineering that runs identically at training and serving time.

TFX's Transform analyses the training split once (means, quantiles, vocabularies) and bakes the
result into a TensorFlow graph; the Trainer attaches that graph to the exported model, so serving
needs no separate preprocessing and cannot drift from training.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

# TFX imports this file as a top-level module from its user-code wheel, bypassing
# components/__init__.py, so it sets the Keras switch itself before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf
import tensorflow_transform as tft

from models import features as F


def _dense(x: tf.Tensor | tf.SparseTensor, default: float | int | str) -> tf.Tensor:
    """A [batch] tensor from an optional feature, with `default` where the value is missing."""
    if not isinstance(x, tf.SparseTensor):
        return tf.reshape(x, [-1])
    dense = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]),
        default_value=tf.constant(default, dtype=x.dtype),
    )
    return tf.squeeze(dense, axis=1)


def _as_float(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    return tf.cast(
        _dense(x, F.MISSING_NUMERIC if x.dtype.is_floating else F.MISSING_INTEGER), tf.float32
    )


def _is_present(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    if not isinstance(x, tf.SparseTensor):
        return tf.ones_like(tf.reshape(x, [-1]), dtype=tf.bool)
    ones = tf.SparseTensor(x.indices, tf.ones_like(x.values, dtype=tf.int32), [x.dense_shape[0], 1])
    return tf.squeeze(tf.sparse.to_dense(ones), axis=1) > 0


def preprocessing_fn(inputs: Mapping[str, tf.Tensor | tf.SparseTensor]) -> dict[str, tf.Tensor]:
    """tf.Transform entry point (the Transform component finds it by name)."""
    outputs: dict[str, tf.Tensor] = {}

    for key in F.ZSCORE_KEYS:
        present = _is_present(inputs[key])
        value = _as_float(inputs[key])
        # Missing values take the mean of the present ones, i.e. 0 after scaling.
        mean = tft.mean(tf.boolean_mask(value, present))
        filled = tf.where(present, value, mean)
        outputs[F.transformed_name(key)] = tft.scale_to_z_score(filled)

    for key in F.QUANTILE_BUCKET_KEYS:
        present = _is_present(inputs[key])
        value = _as_float(inputs[key])
        mean = tft.mean(tf.boolean_mask(value, present))
        outputs[F.transformed_name(key)] = tft.bucketize(
            tf.where(present, value, mean), F.QUANTILE_BUCKET_COUNT
        )

    if F.HOUR_KEY:
        hour = _as_float(inputs[F.HOUR_KEY])
        boundaries = tf.constant([list(F.HOUR_BOUNDARIES)], dtype=tf.float32)
        outputs[F.transformed_name(F.HOUR_KEY)] = tft.apply_buckets(hour, boundaries)

    for key, size in F.INTEGER_CATEGORICAL_SIZES.items():
        value = tf.cast(_dense(inputs[key], F.MISSING_INTEGER), tf.int64)
        # Out-of-range and missing values land in id 0, which real data never uses.
        in_range = tf.logical_and(value >= 0, value < size)
        outputs[F.transformed_name(key)] = tf.where(in_range, value, tf.zeros_like(value))

    for key in F.VOCABULARY_KEYS:
        raw = inputs[key]
        strings = (
            _dense(raw, F.MISSING_STRING)
            if raw.dtype == tf.string
            else tf.strings.as_string(_dense(raw, F.MISSING_INTEGER))
        )
        outputs[F.transformed_name(key)] = tft.compute_and_apply_vocabulary(
            strings, top_k=F.VOCABULARY_SIZE, num_oov_buckets=F.OOV_BUCKETS, vocab_filename=key
        )

    for key in F.CYCLICAL_PARTS:
        outputs.update(cyclical_features(key, inputs[key]))

    outputs[F.LABEL_KEY] = label(inputs)
    return outputs


def _as_text(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A [batch] string tensor; integers as their decimal text ("1", never "01")."""
    if x.dtype == tf.string:
        return _dense(x, F.MISSING_STRING)
    if x.dtype.is_integer:
        return tf.strings.as_string(_dense(x, F.MISSING_INTEGER))
    return tf.strings.as_string(_dense(x, F.MISSING_NUMERIC))


def label(inputs: Mapping[str, tf.Tensor | tf.SparseTensor]) -> tf.Tensor:
    """The model's target from the raw label column, per task (see models/features.py).

    binary: 1/0 by threshold or positive class; multiclass: the class's index in F.CLASSES (-1
    for a value outside them, which the schema's domain stops first); regression: the raw value.
    A serving request carries no label: the missing value gives a placeholder the model ignores.
    """
    raw = inputs[F.LABEL_COLUMN]
    if F.TASK == "regression":
        return _as_float(raw)
    if F.TASK == "multiclass":
        text = _as_text(raw)
        matches = tf.equal(tf.expand_dims(text, 1), tf.constant([list(F.CLASSES)]))
        index = tf.argmax(tf.cast(matches, tf.int64), axis=1)
        return tf.where(tf.reduce_any(matches, axis=1), index, tf.constant(-1, tf.int64))
    if F.POSITIVE_CLASS is not None:
        if raw.dtype == tf.string or raw.dtype.is_integer:
            return tf.cast(tf.equal(_as_text(raw), F.POSITIVE_CLASS), tf.int64)
        return tf.cast(tf.equal(_as_float(raw), float(F.POSITIVE_CLASS)), tf.int64)
    if F.LABEL_THRESHOLD is None:
        raise ValueError(
            "models/features.py: a binary TASK needs LABEL_THRESHOLD or POSITIVE_CLASS"
        )
    bound = tf.constant(F.LABEL_THRESHOLD, tf.float32)
    if F.LABEL_THRESHOLD_OF is not None:
        bound = _as_float(inputs[F.LABEL_THRESHOLD_OF]) * bound
    return tf.cast(_as_float(raw) > bound, tf.int64)


def _days_to_civil(days: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(month 1..12, day of month) of a count of days since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719468
    era = tf.math.floordiv(z, 146097)
    doe = z - era * 146097
    yoe = tf.math.floordiv(
        doe
        - tf.math.floordiv(doe, 1460)
        + tf.math.floordiv(doe, 36524)
        - tf.math.floordiv(doe, 146096),
        365,
    )
    doy = doe - (365 * yoe + tf.math.floordiv(yoe, 4) - tf.math.floordiv(yoe, 100))
    mp = tf.math.floordiv(5 * doy + 2, 153)
    day = doy - tf.math.floordiv(153 * mp + 2, 5) + 1
    month = tf.where(mp < 10, mp + 3, mp - 9)
    return month, day


def _civil_to_days(year: tf.Tensor, month: tf.Tensor, day: tf.Tensor) -> tf.Tensor:
    """Days since 1970-01-01 of a (year, month, day), the inverse of _days_to_civil."""
    year = tf.where(month <= 2, year - 1, year)
    era = tf.math.floordiv(year, 400)
    yoe = year - era * 400
    mp = tf.where(month > 2, month - 3, month + 9)
    doy = tf.math.floordiv(153 * mp + 2, 5) + day - 1
    doe = yoe * 365 + tf.math.floordiv(yoe, 4) - tf.math.floordiv(yoe, 100) + doy
    return era * 146097 + doe - 719468


def _number(text: tf.Tensor, start: int, length: int) -> tf.Tensor:
    return tf.strings.to_number(tf.strings.substr(text, start, length), tf.int64)


def time_parts(x: tf.Tensor | tf.SparseTensor) -> dict[str, tf.Tensor]:
    """hour (0-23), weekday (0 = Monday) and month (0-11) of ISO text or Unix seconds; a missing
    or unreadable value reads as 1970-01-01 00:00 (the parts are then a constant, not an error)."""
    if x.dtype == tf.string:
        text = _dense(x, F.MISSING_STRING)
        iso = tf.strings.regex_full_match(text, r"\d{4}-\d{2}-\d{2}.*")
        text = tf.where(iso, text, "1970-01-01")
        timed = tf.strings.regex_full_match(text, r"\d{4}-\d{2}-\d{2}[ T]\d{2}.*")
        text = tf.where(timed, text, tf.strings.join([tf.strings.substr(text, 0, 10), " 00"]))
        year, month, day = _number(text, 0, 4), _number(text, 5, 2), _number(text, 8, 2)
        days = _civil_to_days(year, month, day)
        hour = _number(text, 11, 2)
    else:
        seconds = tf.cast(_dense(x, 0), tf.int64)
        days = tf.math.floordiv(seconds, 86400)
        hour = tf.math.floordiv(seconds - days * 86400, 3600)
        month, _ = _days_to_civil(days)
    return {"hour": hour, "weekday": tf.math.floormod(days + 3, 7), "month": month - 1}


def cyclical_features(key: str, x: tf.Tensor | tf.SparseTensor) -> dict[str, tf.Tensor]:
    """sin and cos of each F.CYCLICAL_PARTS part of a date or timestamp, so 23h sits by 0h."""
    parts = time_parts(x)
    out = {}
    names = iter(F.cyclical_names(key))
    for part in F.CYCLICAL_PARTS[key]:
        angle = tf.cast(parts[part], tf.float32) * (2 * math.pi / F.CYCLE_LENGTHS[part])
        out[next(names)] = tf.sin(angle)
        out[next(names)] = tf.cos(angle)
    return out
