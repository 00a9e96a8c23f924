"""The feature engineering, run through tensorflow_transform's Beam implementation.

`transform_run` (tests/conftest.py) analyses 1,000 real rows with the project's preprocessing_fn
and applies the result to named probe rows; these tests read what came out.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import features as F
from tests.support import tfx_data as S


@pytest.mark.parametrize("key", F.ZSCORE_KEYS)
def test_zscores_are_standardised_on_the_analysed_data(transform_run, key: str) -> None:
    values = transform_run.train[F.transformed_name(key)]
    assert values.dtype == np.float32
    assert abs(values.mean()) < 1e-4
    assert values.std() == pytest.approx(1.0, abs=1e-3)


def test_vocabulary_holds_the_training_tokens_most_frequent_first(transform_run) -> None:
    vocab = transform_run.output.vocabulary_by_name("payment_type")
    seen = [row["payment_type"][0] for row in transform_run.train_rows]
    assert set(vocab) == set(seen)
    counts = [seen.count(token) for token in vocab]
    assert counts == sorted(counts, reverse=True)
    ids = transform_run.train[F.transformed_name("payment_type")]
    assert [vocab[i] for i in ids[:50]] == seen[:50]


def test_unseen_category_maps_to_an_oov_bucket(transform_run) -> None:
    vocab = transform_run.output.vocabulary_by_name("company")
    assert S.UNSEEN_COMPANY not in vocab
    oov = transform_run.probe["company_xf"][transform_run.probe_index("unseen company")]
    assert len(vocab) <= oov < len(vocab) + F.OOV_BUCKETS
    assert oov < F.VOCABULARY_SIZE + F.OOV_BUCKETS  # inside the model's one-hot width


def test_hour_buckets_follow_the_configured_boundaries(transform_run) -> None:
    got = {
        h: int(transform_run.probe["trip_start_hour_xf"][transform_run.probe_index(f"hour {h}")])
        for h in (0, 5, 6, 9, 10, 15, 16, 19, 20, 23)
    }
    expected = {h: int(np.searchsorted(F.HOUR_BOUNDARIES, h, side="right")) for h in got}
    assert got == expected
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


def test_missing_values_are_filled_as_documented(transform_run) -> None:
    i = transform_run.probe_index("all optional missing")
    probe = {k: v[i] for k, v in transform_run.probe.items()}
    # Optional numerics take the training mean: 0 after z-scoring.
    assert probe["trip_seconds_xf"] == pytest.approx(0.0, abs=1e-5)
    # Vocabulary features map a missing value to a fill-in token ("" for strings, "-1" for
    # integer codes), which has its own id when the training data had gaps, else an OOV bucket.
    fill = {
        "company": F.MISSING_STRING.encode(),
        "pickup_community_area": b"-1",
        "dropoff_community_area": b"-1",
    }
    assert str(F.MISSING_INTEGER).encode() == b"-1"
    for key, token in fill.items():
        vocab = transform_run.output.vocabulary_by_name(key)
        expected = vocab.index(token) if token in vocab else None
        got = int(probe[F.transformed_name(key)])
        if expected is None:
            assert len(vocab) <= got < len(vocab) + F.OOV_BUCKETS, key
        else:
            assert got == expected, key
    # Missing coordinates land in the bucket of the mean coordinate.
    lat = np.mean(
        [r["pickup_latitude"][0] for r in transform_run.train_rows if r["pickup_latitude"]]
    )
    present = [
        (r["pickup_latitude"][0], b)
        for r, b in zip(
            transform_run.train_rows, transform_run.train["pickup_latitude_xf"], strict=True
        )
        if r["pickup_latitude"]
    ]
    nearest = min(present, key=lambda pair: abs(pair[0] - lat))[1]
    assert abs(int(probe["pickup_latitude_xf"]) - int(nearest)) <= 1


def test_label_is_a_tip_above_a_fifth_of_the_fare(transform_run) -> None:
    expected = [int(r["tips"][0] > F.TIP_FRACTION * r["fare"][0]) for r in transform_run.train_rows]
    assert transform_run.train[F.LABEL_KEY].tolist() == expected
    assert 0.1 < np.mean(expected) < 0.9  # both classes present in the sample
