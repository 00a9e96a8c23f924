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
    return F.dense_feature_keys()


def head(
    task: str, classes: int
) -> tuple[int, str, tf.keras.losses.Loss, list[tf.keras.metrics.Metric]]:
    """(output width, activation, loss, training metrics) of a task's output layer.

    binary: one sigmoid probability and binary cross-entropy; multiclass: a softmax over the
    classes and sparse categorical cross-entropy (labels are class ids); regression: one linear
    value and mean squared error.
    """
    if task == "binary":
        return (
            1,
            "sigmoid",
            tf.keras.losses.BinaryCrossentropy(),
            [
                tf.keras.metrics.BinaryAccuracy(name="binary_accuracy"),
                tf.keras.metrics.AUC(name="auc"),
            ],
        )
    if task == "multiclass":
        if classes < 2:
            raise ValueError(
                f"models/features.py: a multiclass TASK needs 2+ CLASSES, not {classes}"
            )
        return (
            classes,
            "softmax",
            tf.keras.losses.SparseCategoricalCrossentropy(),
            [tf.keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        )
    if task == "regression":
        return (
            1,
            "linear",
            tf.keras.losses.MeanSquaredError(),
            [tf.keras.metrics.RootMeanSquaredError(name="rmse")],
        )
    raise ValueError(f"models/features.py: TASK {task!r}; expected one of {', '.join(F.TASKS)}")


def build_model(
    hidden_units: list[int],
    learning_rate: float,
    seed: int,
    target_scale: tuple[float, float] = (0.0, 1.0),
) -> tf.keras.Model:
    """Numeric and cyclical features plus one-hot categoricals into a small MLP, with the
    output layer and loss of models/features.py's TASK.

    A regression head predicts in standard units and is rescaled by `target_scale` (the training
    label's mean and standard deviation), so a target around 1,000 is as quick to learn as one
    around 1 and the served value is in the label's own units.
    """
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
    width, activation, loss, metrics = head(F.TASK, F.class_count())
    output = tf.keras.layers.Dense(
        width,
        activation=activation,
        name="probability" if F.TASK != "regression" else "value",
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=seed + len(hidden_units)),
    )(x)
    if F.TASK == "regression":
        mean, std = target_scale
        output = tf.keras.layers.Rescaling(scale=std, offset=mean, name="label_units")(output)
    model = tf.keras.Model(inputs=inputs, outputs=output, name=F.LABEL_KEY)
    model.compile(
        optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
        loss=loss,
        metrics=metrics,
    )
    return model
