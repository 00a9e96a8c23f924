"""The Keras model: built from the transformed schema, with a probability as its output."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from models import features as F
from models.model import build_model
from models.trainer import model_input_keys
from tests.support import project
from tests.support import tfx_data as S


def test_model_inputs_are_exactly_the_transformed_features(transform_run, training_config):
    spec = transform_run.output.transformed_feature_spec()
    model = build_model(list(training_config.hidden_units), training_config.learning_rate, 0)
    assert set(model_input_keys(model)) == set(spec) - {F.LABEL_KEY}
    for key, tensor in model.input.items():
        assert tensor.dtype == spec[key].dtype, key
        assert tensor.shape.as_list() == [None], key


def test_output_is_one_prediction_per_row(transform_run, training_config) -> None:
    """One probability per row for the taxi sample's binary task; the task's head otherwise
    (a regression's value is rescaled to the label's units by its last layer)."""
    tf.keras.utils.set_random_seed(0)
    model = build_model(list(training_config.hidden_units), training_config.learning_rate, 0)
    out = model.predict(S.feature_columns(transform_run.probe), verbose=0)
    project.assert_predictions(out, len(transform_run.probe_rows))
    assert model.output_names == ["label_units" if project.TASK == "regression" else "probability"]


def test_categorical_widths_cover_every_transformed_id(transform_run) -> None:
    """An id beyond a one-hot's width would be silently dropped by CategoryEncoding."""
    for key, size in F.categorical_sizes().items():
        ids = np.concatenate([transform_run.train[key], transform_run.probe[key]])
        assert ids.min() >= 0 and ids.max() < size, key
