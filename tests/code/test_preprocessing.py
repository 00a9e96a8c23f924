"""The feature engineering, run through tensorflow_transform's Beam implementation.

`transform_run` (tests/conftest.py) analyses 1,000 real rows with the project's preprocessing_fn
and applies the result to named probe rows; these tests read what came out.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import features as F
from store import rows as R
from tests.support import tfx_data as S


@pytest.mark.parametrize("key", F.ZSCORE_KEYS)
def test_zscores_are_standardised_on_the_analysed_data(transform_run, key: str) -> None:
    values = transform_run.train[F.transformed_name(key)]
    assert values.dtype == np.float32
    assert abs(values.mean()) < 1e-4
    assert values.std() == pytest.approx(1.0, abs=1e-3)


# The first text vocabulary (the taxi sample's payment_type): small enough that the vocabulary
# holds every token the training rows carry.
VOCABULARY_KEY = next(iter(S._string_vocabulary_keys()), None)


@pytest.mark.parametrize("key", [VOCABULARY_KEY] if VOCABULARY_KEY else [])
def test_vocabulary_holds_the_training_tokens_most_frequent_first(transform_run, key) -> None:
    vocab = transform_run.output.vocabulary_by_name(key)
    seen = [row[key][0] for row in transform_run.train_rows if row[key]]
    assert set(vocab) - {F.MISSING_STRING.encode()} == set(seen)
    counts = [seen.count(token) for token in vocab if token in seen]
    assert counts == sorted(counts, reverse=True)
    ids = transform_run.train[F.transformed_name(key)]
    present = [i for i, row in enumerate(transform_run.train_rows) if row[key]][:50]
    assert [vocab[ids[i]] for i in present] == [
        transform_run.train_rows[i][key][0] for i in present
    ]


@pytest.mark.parametrize("key", S.UNSEEN_KEYS)
def test_unseen_category_maps_to_an_oov_bucket(transform_run, key: str) -> None:
    vocab = transform_run.output.vocabulary_by_name(key)
    assert S.unseen_value(key) not in vocab
    oov = transform_run.probe[F.transformed_name(key)][transform_run.probe_index(f"unseen {key}")]
    assert len(vocab) <= oov < len(vocab) + F.OOV_BUCKETS
    assert oov < F.VOCABULARY_SIZE + F.OOV_BUCKETS  # inside the model's one-hot width


@pytest.mark.parametrize("key", [F.HOUR_KEY] if F.HOUR_KEY else [])
def test_hour_buckets_follow_the_configured_boundaries(transform_run, key: str) -> None:
    got = {
        h: int(transform_run.probe[F.transformed_name(key)][transform_run.probe_index(f"hour {h}")])
        for h in S.HOURS
    }
    expected = {h: int(np.searchsorted(F.HOUR_BOUNDARIES, h, side="right")) for h in got}
    assert got == expected
    if F.HOUR_BOUNDARIES == (6, 10, 16, 20):  # the taxi sample's, spelt out
        assert got == {0: 0, 5: 0, 6: 1, 9: 1, 10: 2, 15: 2, 16: 3, 19: 3, 20: 4, 23: 4}


@pytest.mark.parametrize("key", F.QUANTILE_BUCKET_KEYS)
def test_quantile_buckets_spread_the_training_data(transform_run, key: str) -> None:
    ids = transform_run.train[F.transformed_name(key)]
    counts = np.bincount(ids, minlength=F.QUANTILE_BUCKET_COUNT)
    assert len(counts) == F.QUANTILE_BUCKET_COUNT  # no id beyond the configured count
    # Missing coordinates are filled with the mean, so one bucket may be heavier; the rest are
    # each close to a tenth of the rows.
    assert (counts > 0).sum() >= F.QUANTILE_BUCKET_COUNT - 1
    assert np.median(counts) == pytest.approx(len(ids) / F.QUANTILE_BUCKET_COUNT, rel=0.5)


def _optional(keys: tuple[str, ...]) -> list[str]:
    required = {f.name for f in R.load_schema().feature if R.is_required(f)}
    return [k for k in keys if k not in required]


def test_missing_values_are_filled_as_documented(transform_run) -> None:
    i = transform_run.probe_index("all optional missing")
    probe = {k: v[i] for k, v in transform_run.probe.items()}
    # Optional numerics take the training mean: 0 after z-scoring.
    for key in _optional(F.ZSCORE_KEYS):
        assert probe[F.transformed_name(key)] == pytest.approx(0.0, abs=1e-5), key
    # Vocabulary features map a missing value to a fill-in token ("" for strings, "-1" for
    # integer codes), which has its own id when the training data had gaps, else an OOV bucket.
    text = set(S._string_vocabulary_keys())
    assert str(F.MISSING_INTEGER).encode() == b"-1"
    for key in _optional(F.VOCABULARY_KEYS):
        token = F.MISSING_STRING.encode() if key in text else b"-1"
        vocab = transform_run.output.vocabulary_by_name(key)
        expected = vocab.index(token) if token in vocab else None
        got = int(probe[F.transformed_name(key)])
        if expected is None:
            assert len(vocab) <= got < len(vocab) + F.OOV_BUCKETS, key
        else:
            assert got == expected, key
    # Missing coordinates (any quantile-bucketed number) land in the bucket of the mean value.
    for key in _optional(F.QUANTILE_BUCKET_KEYS):
        mean = np.mean([r[key][0] for r in transform_run.train_rows if r[key]])
        present = [
            (r[key][0], b)
            for r, b in zip(
                transform_run.train_rows, transform_run.train[F.transformed_name(key)], strict=True
            )
            if r[key]
        ]
        nearest = min(present, key=lambda pair: abs(pair[0] - mean))[1]
        assert abs(int(probe[F.transformed_name(key)]) - int(nearest)) <= 1, key


def _expected_label(row: R.Row) -> float:
    """The label the features module states, computed from the raw row in plain Python."""
    raw = row[F.LABEL_COLUMN][0]
    text = raw.decode() if isinstance(raw, bytes) else raw
    if F.TASK == "regression":
        return float(text)
    if F.TASK == "multiclass":
        return F.CLASSES.index(str(text))
    if F.POSITIVE_CLASS is not None:
        return int(str(text) == F.POSITIVE_CLASS)
    assert F.LABEL_THRESHOLD is not None
    of = float(row[F.LABEL_THRESHOLD_OF][0]) if F.LABEL_THRESHOLD_OF else 1.0
    return int(float(text) > F.LABEL_THRESHOLD * of)


def test_the_label_follows_the_configured_rule(transform_run) -> None:
    expected = [_expected_label(r) for r in transform_run.train_rows]
    got = transform_run.train[F.LABEL_KEY].tolist()
    if F.TASK == "regression":
        assert got == pytest.approx(expected, rel=1e-6)
        return
    assert got == expected
    if F.TASK == "binary":
        assert 0.1 < np.mean(expected) < 0.9  # both classes well present in the sample
    else:
        assert set(expected) == set(range(len(F.CLASSES)))  # every class in the sample
