"""The Trainer step: fit the model on transformed data and export it for serving.

`run_fn` is what TFX calls. `fit` is the training loop itself, kept apart so CI's convergence and
NaN checks run exactly this code on small samples, without a pipeline around it.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# TFX imports this file as a top-level module from its user-code wheel, bypassing
# components/__init__.py, so it sets the Keras switch itself before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from core.errors import GateError
from core.paths import TRAINING_HISTORY_FILE
from models import features as F
from models.model import build_model

EPOCHS = 10


class TrainingDivergedError(GateError):
    """Training produced a NaN/Inf loss or weights; the model must not be exported."""


@dataclass(frozen=True)
class HyperParameters:
    train_steps: int
    eval_steps: int
    batch_size: int
    learning_rate: float
    seed: int
    early_stopping_patience: int
    hidden_units: list[int] = field(default_factory=lambda: [64, 32])

    @classmethod
    def from_fn_args(cls, fn_args: FnArgs) -> HyperParameters:
        """Steps from TFX's TrainArgs/EvalArgs; the rest from the Trainer's custom_config."""
        return cls(
            train_steps=fn_args.train_steps,
            eval_steps=fn_args.eval_steps,
            **fn_args.custom_config["training"],
        )


class EpochLog(tf.keras.callbacks.Callback):
    """One log line per epoch (Keras' own progress output would bypass the run's log file)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        shown = " ".join(f"{k}={v:.4f}" for k, v in sorted((logs or {}).items()))
        logging.info("epoch %d: %s", epoch + 1, shown)


class NanGuard(tf.keras.callbacks.TerminateOnNaN):
    """TerminateOnNaN that also remembers where the loss went bad, so we can say so."""

    def __init__(self) -> None:
        super().__init__()
        self.bad_batch: int | None = None
        self.bad_loss: float | None = None
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.bad_batch is None:
            self.bad_batch, self.bad_loss = batch, float(loss)
        super().on_batch_end(batch, logs)


def non_finite_weights(model: tf.keras.Model) -> list[str]:
    return [
        w.name
        for w in model.weights
        if w.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(w)))
    ]


def fit(
    model: tf.keras.Model, train_ds: tf.data.Dataset, eval_ds: tf.data.Dataset, hp: HyperParameters
) -> dict[str, list[float]]:
    """Train with NaN and early-stopping guards; raise if the result is not finite."""
    steps_per_epoch = max(1, hp.train_steps // EPOCHS)
    epochs = max(1, min(EPOCHS, hp.train_steps))
    guard = NanGuard()
    history = model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        validation_data=eval_ds,
        validation_steps=hp.eval_steps,
        verbose=0,
        callbacks=[
            guard,
            EpochLog(),
            tf.keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=hp.early_stopping_patience, restore_best_weights=True
            ),
        ],
    )
    if guard.bad_batch is not None:
        raise TrainingDivergedError(
            f"NaN detected: training loss became {guard.bad_loss} at epoch {guard.epoch + 1}, "
            f"batch {guard.bad_batch}; training was stopped by TerminateOnNaN and no model was "
            f"exported. Lower training.learning_rate (now {hp.learning_rate}) or check the "
            f"input data for extreme values."
        )
    bad = non_finite_weights(model)
    if bad:
        raise TrainingDivergedError(
            f"NaN detected: weights {', '.join(bad)} are not finite after training; "
            f"no model was exported."
        )
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def make_dataset(
    file_pattern: list[str],
    data_accessor: DataAccessor,
    tft_output: tft.TFTransformOutput,
    batch_size: int,
    seed: int,
    *,
    shuffle: bool = True,
) -> tf.data.Dataset:
    """The Trainer's input path: transformed examples as (features, label) batches, repeated.

    The skew check reads its training-side rows through this same function (unshuffled, so rows
    line up), which is why any preprocessing must live in the Transform, never here.
    """
    return data_accessor.tf_dataset_factory(
        file_pattern,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size, label_key=F.LABEL_KEY, shuffle=shuffle, shuffle_seed=seed
        ),
        tft_output.transformed_metadata.schema,
    ).repeat()


def model_input_keys(model: tf.keras.Model) -> list[str]:
    return list(model.input.keys()) if isinstance(model.input, dict) else list(model.input_names)


def export(model: tf.keras.Model, tft_output: tft.TFTransformOutput, export_dir: str) -> None:
    """Save with signatures that take serialized tf.Example and apply the Transform graph."""
    model.tft_layer = tft_output.transform_features_layer()
    raw_spec = tft_output.raw_feature_spec()
    keys = model_input_keys(model)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        transformed = model.tft_layer(tf.io.parse_example(serialized, raw_spec))
        return {"outputs": model({k: transformed[k] for k in keys})}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    # save_traces=False: Keras rebuilds the model from its config (every layer is a built-in)
    # instead of tracing each layer's call into the SavedModel, a third of the export's time.
    # A layer of your own then needs get_config() and
    # @tf.keras.utils.register_keras_serializable(), or the Evaluator cannot load the model.
    model.save(
        export_dir,
        save_format="tf",
        save_traces=False,
        signatures={
            "serving_default": serve,
            "transform_features": transform_features,
        },
    )


def target_scale(train_ds: tf.data.Dataset, batches: int = 20) -> tuple[float, float]:
    """Mean and standard deviation of a regression label over the first training batches
    (the head predicts in these units); (0, 1) for classification."""
    if F.TASK != "regression":
        return 0.0, 1.0
    labels = tf.concat([tf.reshape(y, [-1]) for _, y in train_ds.take(batches)], axis=0)
    labels = tf.cast(labels, tf.float64)
    std = float(tf.math.reduce_std(labels))
    return float(tf.reduce_mean(labels)), std if math.isfinite(std) and std > 0 else 1.0


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point."""
    hp = HyperParameters.from_fn_args(fn_args)
    tf.keras.utils.set_random_seed(hp.seed)
    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    train_ds = make_dataset(
        fn_args.train_files, fn_args.data_accessor, tft_output, hp.batch_size, hp.seed
    )
    eval_ds = make_dataset(
        fn_args.eval_files, fn_args.data_accessor, tft_output, hp.batch_size, hp.seed
    )
    model = build_model(
        hp.hidden_units, hp.learning_rate, hp.seed, target_scale=target_scale(train_ds)
    )
    history = fit(model, train_ds, eval_ds, hp)
    Path(fn_args.model_run_dir).mkdir(parents=True, exist_ok=True)
    Path(fn_args.model_run_dir, TRAINING_HISTORY_FILE).write_text(json.dumps(history, indent=1))
    export(model, tft_output, fn_args.serving_model_dir)
