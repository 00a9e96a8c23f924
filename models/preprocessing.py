"""The Transform step: feature engineering that runs identically at training and serving time.

TFX's Transform analyses the training split once (means, quantiles, vocabularies) and bakes the
result into a TensorFlow graph; the Trainer attaches that graph to the exported model, so serving
needs no separate preprocessing and cannot drift from training.
"""

from __future__ import annotations

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

    fare = _as_float(inputs["fare"])
    tips = _as_float(inputs["tips"])
    outputs[F.LABEL_KEY] = tf.cast(tips > fare * F.TIP_FRACTION, tf.int64)
    return outputs
