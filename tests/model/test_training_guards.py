"""The Trainer's own guards: a diverging run stops with a NaN message instead of exporting."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models import features as F
from models.model import build_model, dense_feature_keys
from models.trainer import HyperParameters, TrainingDivergedError, fit

HP = HyperParameters(
    train_steps=20,
    eval_steps=2,
    batch_size=32,
    learning_rate=0.01,
    seed=7,
    early_stopping_patience=2,
    hidden_units=[8],
)


def _dataset(rows: int, poison: bool = False) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    x = {k: rng.normal(size=rows).astype("float32") for k in dense_feature_keys()}
    x.update(
        {k: rng.integers(0, n, size=rows).astype("int64") for k, n in F.categorical_sizes().items()}
    )
    if poison:
        x[dense_feature_keys()[0]][::7] = np.inf  # the taxi sample's fare_xf
    y = rng.integers(0, 2, size=rows).astype("int64")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(HP.batch_size).repeat()


def test_poisoned_batch_stops_training_with_a_nan_message() -> None:
    tf.keras.utils.set_random_seed(HP.seed)
    model = build_model(HP.hidden_units, HP.learning_rate, HP.seed)
    with pytest.raises(
        TrainingDivergedError,
        match=r"NaN detected: training loss became nan "
        r"at epoch 1, batch 0",
    ):
        fit(model, _dataset(256, poison=True), _dataset(64), HP)


def test_healthy_data_trains_to_finite_weights() -> None:
    tf.keras.utils.set_random_seed(HP.seed)
    model = build_model(HP.hidden_units, HP.learning_rate, HP.seed)
    history = fit(model, _dataset(256), _dataset(64), HP)
    assert all(np.isfinite(history["loss"]))
    assert len(history["loss"]) >= 1


def test_the_model_is_built_with_keras_2() -> None:
    """TFX 1.16 and TFMA need tf-keras; the project sets TF_USE_LEGACY_KERAS before TF loads."""
    model = build_model(HP.hidden_units, HP.learning_rate, HP.seed)
    assert type(model).__module__.startswith("tf_keras."), type(model).__module__


def test_extreme_schema_valid_rows_get_finite_predictions(transform_run, serve) -> None:
    """Very large and small values, zeros, missing optionals and unseen categories."""
    from store import rows as R
    from tests.support import project
    from tests.support import tfx_data as S

    rows = [transform_run.probe_rows[transform_run.probe_index(p)] for p in S.EXTREME_PROBES]
    out = serve(R.examples(rows))
    project.assert_predictions(out, len(rows))
