"""The released model's `evaluation.metric` on raw labelled rows, for `mlops ct check`'s decay.

The score follows the project's task (models/features.py TASK), and the label is made by the
Transform's own rule (models.preprocessing.label), so a span is scored against the same target
the model was trained on. A score that a span cannot define (no labelled rows, one class only,
outputs that are not numbers) is NaN with the reason in words: the caller says decay was not
measured and why, and never reads it as "no decay".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models import features as F

# The metrics this scorer computes per task; the Evaluator's (models.evaluation) are the same names.
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary": ("auc", "binary_accuracy", "precision", "recall"),
    "multiclass": ("accuracy",),
    "regression": ("rmse",),
}
# A threshold on a binary model's probability, as Keras' binary metrics apply it.
BINARY_THRESHOLD = 0.5
BATCH = 1024


@dataclass(frozen=True)
class Score:
    """`value` of the metric on `count` labelled rows; NaN with `why` when undefined there."""

    value: float
    count: int
    why: str = ""

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)


def undefined(count: int, why: str) -> Score:
    return Score(math.nan, count, why)


def unsupported(metric: str, task: str | None = None) -> str:
    """Why `metric` is not scored for `task` (default: the project's TASK), or "" when it is."""
    task = task or F.TASK
    known = TASK_METRICS.get(task)
    if known is None:
        return f"models/features.py TASK {task!r} is not one of {', '.join(TASK_METRICS)}"
    if metric in known:
        return ""
    return (
        f"a {task} model (models/features.py TASK) is scored on {', '.join(known)}, "
        f"not {metric} (evaluation.metric)"
    )


def _column(values: list[Any]) -> Any:
    """A 1-D tensor of one raw column, typed as the CSV reader types it (string, int, float)."""
    import tensorflow as tf

    if all(isinstance(v, bytes) for v in values):
        return tf.constant(values, tf.string)
    if all(isinstance(v, int) for v in values):
        return tf.constant(values, tf.int64)
    return tf.constant([float(v) for v in values], tf.float32)


def label_inputs() -> tuple[str, ...]:
    """The raw columns the label is made from: a row lacking one has no label."""
    by_threshold = F.TASK == "binary" and F.POSITIVE_CLASS is None
    threshold_of = (F.LABEL_THRESHOLD_OF,) if by_threshold and F.LABEL_THRESHOLD_OF else ()
    return (F.LABEL_COLUMN, *threshold_of)


def labels(rows: list[dict[str, list[Any]]]) -> np.ndarray:
    """The model's target of each row, by the Transform's rule (models.preprocessing.label):
    binary 1/0, a class index (-1 outside F.CLASSES), or the raw value for regression."""
    from models import preprocessing

    if not rows:
        return np.zeros(0)
    inputs = {k: _column([r[k][0] for r in rows]) for k in label_inputs()}
    return np.asarray(preprocessing.label(inputs).numpy())


def measure(metric: str, label: np.ndarray, outputs: np.ndarray, task: str | None = None) -> Score:
    """`metric` of the model's `outputs` ([rows, width]) against `label`, for `task`."""
    task = task or F.TASK
    why = unsupported(metric, task)
    if why:
        raise ValueError(why)
    if len(label) == 0:
        return undefined(0, "has no labelled rows")
    outputs = np.asarray(outputs, dtype=float).reshape(len(label), -1)
    if task == "multiclass":
        known = label >= 0  # a value outside F.CLASSES is the schema's to stop, not a miss
        label, outputs = label[known], outputs[known]
    count = len(label)
    if count == 0:
        return undefined(0, "has no labelled rows")
    if not np.all(np.isfinite(outputs)):
        return undefined(count, "gets model outputs that are not numbers")
    if task == "regression":
        error = outputs[:, 0] - label.astype(float)
        return Score(math.sqrt(float(np.mean(error * error))), count)
    classes = sorted({int(v) for v in label.tolist()})
    if len(classes) < 2 and metric != "binary_accuracy":
        return undefined(count, f"has labels of one class only ({_class_name(classes[0], task)})")
    if task == "multiclass":
        hits = np.argmax(outputs, axis=1) == label.astype(int)
        return Score(float(np.mean(hits)), count)
    return Score(_binary(metric, label.astype(float), outputs[:, 0]), count)


def _class_name(index: int, task: str) -> str:
    if task == "multiclass" and 0 <= index < len(F.CLASSES):
        return F.CLASSES[index]
    return str(index)


def _binary(metric: str, label: np.ndarray, probability: np.ndarray) -> float:
    """A binary metric as the model's training metrics compute it (Keras)."""
    import tensorflow as tf

    keras_metric = {
        "auc": lambda: tf.keras.metrics.AUC(num_thresholds=10000),
        "binary_accuracy": lambda: tf.keras.metrics.BinaryAccuracy(threshold=BINARY_THRESHOLD),
        "precision": lambda: tf.keras.metrics.Precision(thresholds=BINARY_THRESHOLD),
        "recall": lambda: tf.keras.metrics.Recall(thresholds=BINARY_THRESHOLD),
    }[metric]()
    keras_metric.update_state(label, probability)
    return float(keras_metric.result().numpy())


def predict(model_dir: Path, rows: list[dict[str, list[Any]]]) -> np.ndarray:
    """The serving signature's outputs ([rows, width]) on the rows as a client sends them (the
    label's source columns left out where serving does not take them)."""
    import tensorflow as tf

    from store import rows as R

    schema = R.load_schema()
    served = {f.name for f in R.serving_features(schema)}
    serving = [{k: v for k, v in r.items() if k in served} for r in rows]
    signature = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    batches = [R.examples(serving[i : i + BATCH], schema) for i in range(0, len(serving), BATCH)]
    outputs = [signature(examples=tf.constant(b))["outputs"].numpy() for b in batches]
    return np.concatenate([o.reshape(len(o), -1) for o in outputs]) if outputs else np.zeros((0, 1))


def score(model_dir: Path, rows: list[dict[str, list[Any]]], metric: str) -> Score:
    """`metric` of the SavedModel at `model_dir` on labelled raw rows (see `measure`)."""
    if not rows:
        return undefined(0, "has no labelled rows")
    return measure(metric, labels(rows), predict(model_dir, rows))
