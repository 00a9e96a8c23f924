"""A planted fault for the end-to-end regression test: a trainer blind to the payment type.

The real trainer, except that `payment_type` is shuffled across the rows of each training batch:
the model sees realistic payment types that carry no information about the label. On this data
payment type is nearly the whole signal (cash tips are not recorded), so the model ranks tippers
about as well as chance: a far weaker model than the one trained on every feature, from a change
that breaks nothing else. TFX loads this file as the Trainer's module through
tests/end_to_end/faults/run_with_trainer.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf

from models import trainer
from models.features import transformed_name

_real_make_dataset = trainer.make_dataset
PAYMENT = transformed_name("payment_type")


def _blind(*args, **kwargs) -> tf.data.Dataset:
    def shuffle_payment_type(features, label):
        features = dict(features)
        features[PAYMENT] = tf.random.shuffle(features[PAYMENT], seed=7)
        return features, label

    return _real_make_dataset(*args, **kwargs).map(shuffle_payment_type)


def run_fn(fn_args) -> None:
    trainer.make_dataset = _blind
    trainer.run_fn(fn_args)
