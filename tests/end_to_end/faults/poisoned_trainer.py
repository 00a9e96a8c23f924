"""A planted fault for the end-to-end NaN test: the real trainer, fed one poisoned feature.

TFX loads this file as the Trainer's module (tests/end_to_end/faults/run_poisoned.py points the
pipeline at it); everything else is the project's own run_fn.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf

from models import trainer

_real_make_dataset = trainer.make_dataset


def _poisoned(*args, **kwargs) -> tf.data.Dataset:
    def poison(features, label):
        features = dict(features)
        features["fare_xf"] = features["fare_xf"] * float("inf")
        return features, label

    return _real_make_dataset(*args, **kwargs).map(poison)


def run_fn(fn_args) -> None:
    trainer.make_dataset = _poisoned
    trainer.run_fn(fn_args)
