"""A planted fault for the end-to-end regression test: a trainer that learns from one feature.

The real trainer, except that every feature but `payment_type` is shuffled across the rows of
each training batch (one permutation for all of them), so the model sees realistic values that
carry no information about the label. Payment type alone separates tippers well (cash tips are
not recorded), so the model is still useful, but it ranks tippers clearly worse than the model
trained on every feature. TFX loads this file as the Trainer's module through
tests/end_to_end/faults/run_with_trainer.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf

from components import trainer
from components.features import transformed_name

_real_make_dataset = trainer.make_dataset
KEPT = transformed_name("payment_type")


def _narrow(*args, **kwargs) -> tf.data.Dataset:
    def shuffle_all_but_payment_type(features, label):
        order = tf.random.shuffle(tf.range(tf.shape(label)[0]), seed=7)
        features = {k: v if k == KEPT else tf.gather(v, order) for k, v in features.items()}
        return features, label

    return _real_make_dataset(*args, **kwargs).map(shuffle_all_but_payment_type)


def run_fn(fn_args) -> None:
    trainer.make_dataset = _narrow
    trainer.run_fn(fn_args)
