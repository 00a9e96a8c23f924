"""The project under test, as its own configuration names it: the model, the data, the label,
the features and the task.

Tests that guard the project's code (features, Transform, training, serving contract, load-test
rows) read these instead of the taxi sample's literal names, so they keep working after
`mlops init` makes the template someone else's. Tests that guard the sample's own behaviour
(taxi row readers, taxi schema rules) read the pinned copy in `TAXI` instead (tests/fixtures/taxi),
so init cannot break them either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import core  # noqa: F401
from core import config
from core.config_layers import read_yaml
from core.paths import REPO_ROOT
from models import features as F

_DEV = config.load("dev")

# The model's name as configuration gives it (the registry repository, TF Serving's model name).
MODEL: str = _DEV.model_name
# The raw data's root (data/<name>/) and its span files, span 1 first.
DATA_ROOT = Path(_DEV.data.root)
SPANS: tuple[Path, ...] = tuple(
    sorted(DATA_ROOT.glob("span-*/*.csv"), key=lambda p: int(p.parent.name.split("-", 1)[1]))
)
# The project's slug as init writes it (the base layer's deploy.namespace): the placeholder GHCR
# repository `local/<slug>`, the Kubernetes names `<slug>-serving`, the pipeline `<slug>-<env>`.
SLUG: str = read_yaml(REPO_ROOT / "environments" / "base" / "config.yaml")["deploy"]["namespace"]
TASK: str = F.TASK
LABEL_KEY: str = F.LABEL_KEY
LABEL_COLUMN: str = F.LABEL_COLUMN
# Is this the bundled taxi sample (no `mlops init` yet)?
IS_TAXI_SAMPLE: bool = MODEL == "taxi_tips"

# The taxi sample's pinned copy: a small CSV (every 50th trip of both spans) and its schema.
TAXI = REPO_ROOT / "tests" / "fixtures" / "taxi"
TAXI_ROWS = TAXI / "data.csv"
TAXI_SCHEMA = TAXI / "schema.pbtxt"
# Its drift thresholds (a copy of models/schema/drift.yaml as the sample ships it).
TAXI_DRIFT = TAXI / "drift.yaml"


def _spans(root: Path) -> tuple[Path, ...]:
    return tuple(
        sorted(root.glob("span-*/*.csv"), key=lambda p: int(p.parent.name.split("-", 1)[1]))
    )


# The bundled taxi sample's full spans (data/taxi), which the continuous-training tests calibrate
# their planted shifts on; `mlops init` leaves them in place.
TAXI_SPANS = _spans(REPO_ROOT / "data" / "taxi")


def combined_csv(spans: tuple[Path, ...], name: str) -> Path:
    """`spans` in one CSV (span 1 first, one header), as build/test-data/<name>-all-spans.csv."""
    import os

    if not spans:
        raise FileNotFoundError(f"no span-*/*.csv for {name} (data.root in environments/base)")
    target = REPO_ROOT / "build" / "test-data" / f"{name}-all-spans.csv"
    texts = [p.read_text().splitlines(keepends=True) for p in spans]
    content = texts[0][0] + "".join("".join(t[1:]) for t in texts)
    if not target.exists() or target.read_text() != content:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(content)
        tmp.replace(target)
    return target


def all_rows_csv() -> Path:
    """Every span of the project's data in one CSV (span 1 first), under build/test-data/."""
    return combined_csv(SPANS, MODEL)


def assert_predictions(out: Any, rows: int) -> None:
    """What the configured task's head returns for `rows` rows: binary one probability each,
    multiclass a distribution over the classes, regression one finite value in label units."""
    import numpy as np

    assert np.all(np.isfinite(out)), out
    if TASK == "multiclass":
        assert out.shape == (rows, len(F.CLASSES)), out.shape
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
        assert np.all(out >= 0)
        return
    assert out.shape == (rows, 1), out.shape
    if TASK == "binary":
        assert np.all((out >= 0) & (out <= 1)), out


# The taxi sample's task settings in models/features.py, for tests of binary-task behaviour
# (AUC, one-class slices) written on its rows, whatever task `mlops init` configured.
TAXI_TASK = {
    "TASK": "binary",
    "LABEL_KEY": "big_tipper",
    "LABEL_COLUMN": "tips",
    "LABEL_THRESHOLD": 0.2,
    "LABEL_THRESHOLD_OF": "fare",
    "POSITIVE_CLASS": None,
    "CLASSES": (),
}


# The taxi sample's feature roles in models/features.py (with TAXI_TASK: the whole file's settings).
TAXI_ROLES: dict[str, Any] = {
    "LABEL_SOURCE_KEYS": ("tips", "fare"),
    "ZSCORE_KEYS": ("fare", "trip_miles", "trip_seconds"),
    "QUANTILE_BUCKET_KEYS": (
        "pickup_latitude",
        "pickup_longitude",
        "dropoff_latitude",
        "dropoff_longitude",
    ),
    "QUANTILE_BUCKET_COUNT": 10,
    "HOUR_KEY": "trip_start_hour",
    "HOUR_BOUNDARIES": (6, 10, 16, 20),
    "INTEGER_CATEGORICAL_SIZES": {"trip_start_day": 8, "trip_start_month": 13},
    "VOCABULARY_KEYS": (
        "payment_type",
        "company",
        "pickup_community_area",
        "dropoff_community_area",
    ),
    "CYCLICAL_PARTS": {},
    "UNUSED_KEYS": ("trip_start_timestamp", "pickup_census_tract", "dropoff_census_tract"),
}

# The taxi sample's values in environments/base/config.yaml that its planted spans are calibrated
# on: span counts, the window, the decay floor and the gated metric with its slices.
TAXI_CONFIG: dict[str, Any] = {
    "data": {"window_spans": 2, "min_examples": 1000},
    # A regression project's upper bound and decay ceiling go: AUC is gated from below.
    "continuous_training": {"decay_floor": 0.78, "decay_ceiling": None},
    "evaluation": {
        "metric": "auc",
        "lower_bound": 0.80,
        "upper_bound": None,
        "slices": ["payment_type", "trip_start_hour"],
    },
}


def taxi_schema() -> Any:
    """The taxi sample's pinned curated schema (tests/fixtures/taxi/schema.pbtxt)."""
    from core.schema import load_schema

    return load_schema(TAXI_SCHEMA)


@contextlib.contextmanager
def taxi_sample(environments: Path | None = None) -> Iterator[None]:
    """The taxi sample as the project for the duration, whatever `mlops init` made of this one:
    its task and feature roles in models.features, its pinned schema and drift thresholds as the
    files every reader defaults to, and (given a copy of environments/) its config values in that
    copy's base layer. For tests that drive a whole command (`mlops ct check`) on taxi rows."""
    from core import schema
    from ct import drift

    with taxi_task(), pytest.MonkeyPatch.context() as patch:
        for name, value in TAXI_ROLES.items():
            patch.setattr(F, name, value)
        patch.setattr(schema, "SCHEMA_FILE", TAXI_SCHEMA)
        patch.setattr(drift, "THRESHOLDS_FILE", TAXI_DRIFT)
        if environments is not None:
            from tests.support.repo import update_overlay

            update_overlay(environments, "base", TAXI_CONFIG)
        yield


@contextlib.contextmanager
def taxi_task() -> Iterator[None]:
    """models.features set to the taxi sample's binary task for the duration, and the metrics
    the run summary lists (models.evaluation.METRIC_CLASSES) with it."""
    from models import evaluation

    with pytest.MonkeyPatch.context() as patch:
        for name, value in TAXI_TASK.items():
            patch.setattr(F, name, value)
        patch.setattr(evaluation, "METRIC_CLASSES", evaluation.TASK_METRIC_CLASSES["binary"])
        yield
