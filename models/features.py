"""The role of every raw column, in one place.

The curated schema (models/schema/schema.pbtxt), the Transform, the model and the tests all
read from here, so a column is either engineered in a stated way or listed as deliberately unused.
"""

from __future__ import annotations

# Label: did the tip exceed 20% of the fare? Computed in the Transform from these raw columns.
LABEL_KEY = "big_tipper"
TIP_FRACTION = 0.2
# A serving request may leave "tips" out: it only feeds the label, which serving ignores.
LABEL_SOURCE_KEYS = ("tips", "fare")

# Numeric columns standardised to z-scores; missing values become the mean (0 after scaling).
ZSCORE_KEYS = ("fare", "trip_miles", "trip_seconds")

# Numeric columns cut into quantile buckets computed on the training data.
QUANTILE_BUCKET_KEYS = (
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
)
QUANTILE_BUCKET_COUNT = 10

# Hour of day cut at fixed, human-chosen boundaries (night, morning rush, day, evening rush, late).
HOUR_KEY = "trip_start_hour"
HOUR_BOUNDARIES = (6, 10, 16, 20)

# Integer categoricals with a known range: one-hot over [0, size).
INTEGER_CATEGORICAL_SIZES = {"trip_start_day": 8, "trip_start_month": 13}

# String (or code-like integer) categoricals mapped through a vocabulary learned on training data.
VOCABULARY_KEYS = ("payment_type", "company", "pickup_community_area", "dropoff_community_area")
VOCABULARY_SIZE = 100
OOV_BUCKETS = 2

# Present in the data and the schema, deliberately not used by the model: a raw timestamp
# (hour/day/month already carry the seasonality), and census tracts (mostly missing).
UNUSED_KEYS = ("trip_start_timestamp", "pickup_census_tract", "dropoff_census_tract")

# Fill-ins for missing values before the analysers see them.
MISSING_NUMERIC = 0.0
MISSING_INTEGER = -1
MISSING_STRING = ""


def transformed_name(key: str) -> str:
    return f"{key}_xf"


def model_feature_keys() -> tuple[str, ...]:
    """Raw columns the model consumes, in a stable order."""
    return (
        ZSCORE_KEYS
        + QUANTILE_BUCKET_KEYS
        + (HOUR_KEY,)
        + tuple(INTEGER_CATEGORICAL_SIZES)
        + VOCABULARY_KEYS
    )


def all_raw_keys() -> tuple[str, ...]:
    """Every raw column the schema must describe."""
    keys = model_feature_keys() + UNUSED_KEYS + LABEL_SOURCE_KEYS
    return tuple(dict.fromkeys(keys))


def categorical_sizes() -> dict[str, int]:
    """Number of distinct ids per categorical transformed feature, for the model's one-hots."""
    sizes = {transformed_name(k): QUANTILE_BUCKET_COUNT for k in QUANTILE_BUCKET_KEYS}
    sizes[transformed_name(HOUR_KEY)] = len(HOUR_BOUNDARIES) + 1
    sizes.update({transformed_name(k): n for k, n in INTEGER_CATEGORICAL_SIZES.items()})
    sizes.update({transformed_name(k): VOCABULARY_SIZE + OOV_BUCKETS for k in VOCABULARY_KEYS})
    return sizes
