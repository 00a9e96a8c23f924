"""The task and the role of every raw column, in one place.

The curated schema (models/schema/schema.pbtxt), the Transform, the model head, the Evaluator
and the tests all read from here, so a column is either engineered in a stated way or listed as
deliberately unused. `mlops init` rewrites this file for a new dataset; this one is the taxi
sample's.
"""

from __future__ import annotations

# The task: binary, multiclass or regression. It picks the label logic (models/preprocessing.py),
# the head and loss (models/model.py) and the gated metric (models/evaluation.py).
TASK = "binary"

# The model's target, as the Transform outputs it.
LABEL_KEY = "big_tipper"
# The raw column the label is computed from.
LABEL_COLUMN = "tips"
# Binary by threshold: 1 where LABEL_COLUMN > LABEL_THRESHOLD, times LABEL_THRESHOLD_OF when set.
# The taxi label: did the tip exceed 20% of the fare?
TIP_FRACTION = 0.2
LABEL_THRESHOLD: float | None = TIP_FRACTION
LABEL_THRESHOLD_OF: str | None = "fare"
# Binary by class: the raw value that means 1 (instead of a threshold).
POSITIVE_CLASS: str | None = None
# Multiclass: the raw label values in id order (the model's output i is CLASSES[i]).
CLASSES: tuple[str, ...] = ()
# Raw columns that only feed the label: a serving request may leave them out.
LABEL_SOURCE_KEYS = ("tips", "fare")

# Numeric columns standardised to z-scores; missing values become the mean (0 after scaling).
ZSCORE_KEYS: tuple[str, ...] = ("fare", "trip_miles", "trip_seconds")

# Numeric columns cut into quantile buckets computed on the training data.
QUANTILE_BUCKET_KEYS: tuple[str, ...] = (
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
)
QUANTILE_BUCKET_COUNT = 10

# Hour of day cut at fixed, human-chosen boundaries (night, morning rush, day, evening rush, late).
HOUR_KEY: str | None = "trip_start_hour"
HOUR_BOUNDARIES = (6, 10, 16, 20)

# Integer categoricals with a known range: one-hot over [0, size).
INTEGER_CATEGORICAL_SIZES: dict[str, int] = {"trip_start_day": 8, "trip_start_month": 13}

# String (or code-like integer) categoricals mapped through a vocabulary learned on training data.
VOCABULARY_KEYS: tuple[str, ...] = (
    "payment_type",
    "company",
    "pickup_community_area",
    "dropoff_community_area",
)
VOCABULARY_SIZE = 100
OOV_BUCKETS = 2

# Dates and timestamps (ISO text, or Unix seconds) as sin/cos of their hour, weekday and month.
CYCLICAL_PARTS: dict[str, tuple[str, ...]] = {}

# Present in the data and the schema, deliberately not used by the model: a raw timestamp
# (hour/day/month already carry the seasonality), and census tracts (mostly missing).
UNUSED_KEYS: tuple[str, ...] = (
    "trip_start_timestamp",
    "pickup_census_tract",
    "dropoff_census_tract",
)

# Fill-ins for missing values before the analysers see them.
MISSING_NUMERIC = 0.0
MISSING_INTEGER = -1
MISSING_STRING = ""

TASKS = ("binary", "multiclass", "regression")
# Periods of the cyclical parts: the value is mapped onto a circle of this length.
CYCLE_LENGTHS = {"hour": 24, "weekday": 7, "month": 12}


def transformed_name(key: str) -> str:
    return f"{key}_xf"


def cyclical_names(key: str) -> list[str]:
    """The transformed sin and cos features of one date or timestamp column."""
    return [
        transformed_name(f"{key}_{part}_{wave}")
        for part in CYCLICAL_PARTS[key]
        for wave in ("sin", "cos")
    ]


def model_feature_keys() -> tuple[str, ...]:
    """Raw columns the model consumes, in a stable order."""
    return (
        ZSCORE_KEYS
        + QUANTILE_BUCKET_KEYS
        + ((HOUR_KEY,) if HOUR_KEY else ())
        + tuple(INTEGER_CATEGORICAL_SIZES)
        + VOCABULARY_KEYS
        + tuple(CYCLICAL_PARTS)
    )


def all_raw_keys() -> tuple[str, ...]:
    """Every raw column the schema must describe."""
    keys = model_feature_keys() + UNUSED_KEYS + LABEL_SOURCE_KEYS
    return tuple(dict.fromkeys(keys))


def dense_feature_keys() -> list[str]:
    """Transformed features the model reads as floats: z-scores and cyclical sin/cos."""
    keys = [transformed_name(k) for k in ZSCORE_KEYS]
    for key in CYCLICAL_PARTS:
        keys += cyclical_names(key)
    return keys


def categorical_sizes() -> dict[str, int]:
    """Number of distinct ids per categorical transformed feature, for the model's one-hots."""
    sizes = {transformed_name(k): QUANTILE_BUCKET_COUNT for k in QUANTILE_BUCKET_KEYS}
    if HOUR_KEY:
        sizes[transformed_name(HOUR_KEY)] = len(HOUR_BOUNDARIES) + 1
    sizes.update({transformed_name(k): n for k, n in INTEGER_CATEGORICAL_SIZES.items()})
    sizes.update({transformed_name(k): VOCABULARY_SIZE + OOV_BUCKETS for k in VOCABULARY_KEYS})
    return sizes


def class_count() -> int:
    """Width of the model's output: one probability per class, else a single value."""
    return len(CLASSES) if TASK == "multiclass" else 1
