"""Training/serving skew: the exported signature and the trained model agree on the same rows.

Serving path: raw rows -> serialized tf.Example -> `serving_default` (Transform graph inside).
Training path: raw rows -> preprocessing_fn through tf.Transform's Beam implementation ->
transformed tf.Examples on disk -> TFX's DataAccessor and the Trainer's own `make_dataset` ->
Keras model. Any preprocessing that happens on one path only shows up as a difference here,
whether it sits in the Transform or in the Trainer's input pipeline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from models import features as F
from models import trainer
from models.preprocessing import preprocessing_fn
from store import rows as R
from tests.support import tfx_data as S
from tests.support.model_checks import SkewError, check_skew

TOLERANCE = 1e-5
SPLIT = "probe"


def _write_transformed(run: S.TransformRun, root: Path) -> str:
    """The probe rows as Transform writes its output: gzipped TFRecords of tf.Examples."""
    import tensorflow_transform as tft

    coder = tft.coders.ExampleProtoCoder(run.output.transformed_metadata.schema)
    split = root / f"Split-{SPLIT}"
    split.mkdir(parents=True)
    with tf.io.TFRecordWriter(
        str(split / "transformed_examples-00000-of-00001.gz"), options="GZIP"
    ) as writer:
        for i in range(len(run.probe_labels)):
            writer.write(coder.encode({k: v[i] for k, v in run.probe.items()}))
    return str(split / "*")


def training_path(
    run: S.TransformRun, model: tf.keras.Model, root: Path
) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and labels for the probe rows, read the way the Trainer reads its data:
    the DataAccessor TFX's Trainer builds for an Examples artifact, then `trainer.make_dataset`
    (looked up at call time, so a fault planted in the trainer module is what runs)."""
    from tfx.components.trainer.fn_args_utils import DataAccessor
    from tfx.components.util import tfxio_utils
    from tfx.types import artifact_utils, standard_artifacts

    pattern = _write_transformed(run, root)
    examples = standard_artifacts.Examples()
    examples.uri = str(root)
    examples.split_names = artifact_utils.encode_split_names([SPLIT])
    accessor = DataAccessor(
        tf_dataset_factory=tfxio_utils.get_tf_dataset_factory_from_artifact([examples], []),
        record_batch_factory=tfxio_utils.get_record_batch_factory_from_artifact([examples], []),
        data_view_decode_fn=None,
    )
    rows = len(run.probe_labels)
    dataset = trainer.make_dataset(
        [pattern], accessor, run.output, batch_size=rows, seed=0, shuffle=False
    )
    features, labels = next(iter(dataset))
    return model.predict(features, verbose=0), labels.numpy()


def test_serving_signature_matches_the_training_path(
    transform_run, trained, serve, tmp_path, ci_report
) -> None:
    served = serve(R.examples(transform_run.probe_rows))
    training, labels = training_path(transform_run, trained.model, tmp_path)
    # The rows came back in order: the labels are the probe rows' own.
    np.testing.assert_array_equal(labels.reshape(-1), transform_run.probe[F.LABEL_KEY])
    report = check_skew(transform_run.probe_labels, served, training, tolerance=TOLERANCE)
    ci_report("training/serving skew", report.table())


# The clipped feature: the first z-scored one (the taxi sample's fare), and the taxi sample's probe
# whose value the clip changes most. Elsewhere no probe is named: an extreme value can saturate a
# multiclass softmax, so that the clip changes the input but not the output.
CLIPPED = F.ZSCORE_KEYS[0]
EXTREME = "fare 10000" if S.IS_TAXI else None
# The planted clip in the Trainer's input: transformed values above it are changed.
CLIP = 0.5


def _raw_clip(rows: list) -> float:
    """The raw value the training-only clip caps at: 20.0 (dollars) on the taxi sample, else the
    training median, which leaves half the rows changed."""
    if S.IS_TAXI:
        return 20.0
    return float(np.median([r[CLIPPED][0] for r in rows if r[CLIPPED]]))


def _fare_clipped_in_the_trainer_input(real):
    """A planted fault: the Trainer's input pipeline clips the transformed fare; the serving
    signature (Transform graph + model) never does."""

    def make_dataset(*args, **kwargs) -> tf.data.Dataset:
        def clip(features, label):
            features = dict(features)
            features[F.transformed_name(CLIPPED)] = tf.minimum(
                features[F.transformed_name(CLIPPED)], CLIP
            )
            return features, label

        return real(*args, **kwargs).map(clip)

    return make_dataset


def test_skew_check_catches_preprocessing_in_the_trainer_input_path(
    transform_run, trained, serve, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(
        trainer, "make_dataset", _fare_clipped_in_the_trainer_input(trainer.make_dataset)
    )
    served = serve(R.examples(transform_run.probe_rows))
    training, _ = training_path(transform_run, trained.model, tmp_path)
    with pytest.raises(SkewError, match=r"training/serving skew: .* rows differ") as caught:
        check_skew(transform_run.probe_labels, served, training, tolerance=TOLERANCE)
    if EXTREME:
        assert EXTREME in str(caught.value)  # the extreme fare is among the rows named
    # Only rows the clip changed differ, and each is named.
    report = check_skew(transform_run.probe_labels, served, training, tolerance=float("inf"))
    clipped = np.asarray(transform_run.probe[F.transformed_name(CLIPPED)]).reshape(-1) > CLIP
    differ = report.diffs > TOLERANCE
    assert differ.any() and not (differ & ~clipped).any()
    for i in np.flatnonzero(differ):
        assert f"\n{transform_run.probe_labels[i]} " in str(caught.value)


def _fare_clipped_at_training_time(cap: float):
    """A planted fault: fares are clipped in the training Transform only."""

    def fn(inputs):
        clipped = dict(inputs)
        fare = inputs[CLIPPED]
        capped = tf.minimum(fare.values, tf.cast(cap, fare.values.dtype))
        clipped[CLIPPED] = tf.SparseTensor(fare.indices, capped, fare.dense_shape)
        return preprocessing_fn(clipped)

    return fn


def test_skew_check_catches_preprocessing_applied_only_in_the_training_transform(
    transform_run, trained, serve, tmp_path
) -> None:
    skewed = S.cached_transform(
        "transform-fare-clipped",
        transform_run.train_rows,
        list(zip(transform_run.probe_labels, transform_run.probe_rows, strict=True)),
        tmp_path / "skewed",
        fn=_fare_clipped_at_training_time(_raw_clip(transform_run.train_rows)),
        files=[Path(__file__)],
    )
    served = serve(R.examples(skewed.probe_rows))
    training, _ = training_path(skewed, trained.model, tmp_path / "read")
    with pytest.raises(SkewError, match=r"training/serving skew: .* rows differ") as caught:
        check_skew(skewed.probe_labels, served, training, tolerance=TOLERANCE)
    # The message carries the table, worst rows first, so the CI log shows where to look.
    assert "max |diff|" in str(caught.value) and "held-out #" in str(caught.value)
