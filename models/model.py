"""The Keras model over transformed features: small, seeded, and built from the feature table."""

from __future__ import annotations

import tensorflow as tf

from models import features as F


def _skip_autograph_for_tf_keras() -> None:
    """Stop autograph from transpiling tf-keras' own source on every first trace.

    TensorFlow lists `keras` as a library autograph must not convert, but not the separate
    `tf_keras` package that TFX 1.16 runs on; the first `fit` then spends ~15 s rewriting Keras
    internals (measured on a 2-core machine: 16 s -> 1.7 s for the first epoch). This is a
    private TensorFlow module, so a future TensorFlow without it just loses the speed-up.
    """
    try:
        from tensorflow.python.autograph.core import config as autograph_config
    except ImportError:  # pragma: no cover
        return
    rule = autograph_config.DoNotConvert("tf_keras")
    rules = tuple(autograph_config.CONVERSION_RULES)
    if not any(r.matches("tf_keras") for r in rules):
        autograph_config.CONVERSION_RULES = (rule, *rules)


_skip_autograph_for_tf_keras()


def dense_feature_keys() -> list[str]:
    return [F.transformed_name(k) for k in F.ZSCORE_KEYS]


def build_model(hidden_units: list[int], learning_rate: float, seed: int) -> tf.keras.Model:
    """Numeric z-scores plus one-hot categoricals into a small MLP with a sigmoid output."""
    inputs: dict[str, tf.keras.Input] = {}
    parts = []
    for key in dense_feature_keys():
        inputs[key] = tf.keras.Input(shape=(), name=key, dtype=tf.float32)
        parts.append(tf.keras.layers.Reshape((1,), name=f"{key}_col")(inputs[key]))
    for key, size in F.categorical_sizes().items():
        inputs[key] = tf.keras.Input(shape=(), name=key, dtype=tf.int64)
        column = tf.keras.layers.Reshape((1,), name=f"{key}_col")(inputs[key])
        parts.append(
            tf.keras.layers.CategoryEncoding(
                num_tokens=size, output_mode="one_hot", name=f"{key}_onehot"
            )(column)
        )
    x = tf.keras.layers.Concatenate(name="features")(parts)
    for i, units in enumerate(hidden_units):
        x = tf.keras.layers.Dense(
            units,
            activation="relu",
            name=f"hidden_{i}",
            kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + i),
        )(x)
    output = tf.keras.layers.Dense(
        1,
        activation="sigmoid",
        name="probability",
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + len(hidden_units)),
    )(x)
    model = tf.keras.Model(inputs=inputs, outputs=output, name="big_tipper")
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf.keras.losses.BinaryCrossentropy(),
        metrics=[
            tf.keras.metrics.BinaryAccuracy(name="binary_accuracy"),
            tf.keras.metrics.AUC(name="auc"),
        ],
    )
    return model
