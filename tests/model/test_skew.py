"""Training/serving skew: the exported signature and the trained model agree on the same rows.

Serving path: raw rows -> serialized tf.Example -> `serving_default` (Transform graph inside).
Training path: raw rows -> preprocessing_fn through tf.Transform's Beam implementation -> Keras
model. Any preprocessing that happens on one path only shows up as a difference here.
"""

from __future__ import annotations

import pytest

from components import rows as R
from components.model_checks import SkewError, check_skew
from components.preprocessing import preprocessing_fn
from tests import support as S

TOLERANCE = 1e-5


def test_serving_signature_matches_the_training_path(transform_run, trained, serve,
                                                     ci_report) -> None:
    served = serve(R.examples(transform_run.probe_rows))
    training = trained.model.predict(S.feature_columns(transform_run.probe), verbose=0)
    report = check_skew(transform_run.probe_labels, served, training, tolerance=TOLERANCE)
    ci_report("training/serving skew", report.table())


def _fare_clipped_at_training_time(inputs):
    """A planted fault: fares are clipped in the training input path only."""
    import tensorflow as tf

    clipped = dict(inputs)
    fare = inputs["fare"]
    clipped["fare"] = tf.SparseTensor(fare.indices, tf.minimum(fare.values, 20.0),
                                      fare.dense_shape)
    return preprocessing_fn(clipped)


def test_skew_check_catches_preprocessing_applied_only_in_training(transform_run, trained,
                                                                   serve, tmp_path) -> None:
    skewed = S.run_transform(transform_run.train_rows,
                             list(zip(transform_run.probe_labels, transform_run.probe_rows,
                                      strict=True)),
                             tmp_path / "skewed", fn=_fare_clipped_at_training_time)
    served = serve(R.examples(skewed.probe_rows))
    training = trained.model.predict(S.feature_columns(skewed.probe), verbose=0)
    with pytest.raises(SkewError, match=r"training/serving skew: .* rows differ") as caught:
        check_skew(skewed.probe_labels, served, training, tolerance=TOLERANCE)
    # The message carries the table, worst rows first, so the CI log shows where to look.
    assert "max |diff|" in str(caught.value) and "held-out #" in str(caught.value)
