"""The pinned taxi sample (tests/support/project.py, tests/fixtures/taxi/) is a copy of what the
sample ships; tests of taxi behaviour run against it after `mlops init` replaced the project. In
the sample itself the copy must equal the original, or those tests would pass on a stale sample."""

from __future__ import annotations

import pytest

from core import config
from core.schema import SCHEMA_FILE, load_schema
from ct.drift import THRESHOLDS_FILE
from models import features as F
from tests.support import project

pytestmark = pytest.mark.skipif(
    not project.IS_TAXI_SAMPLE,
    reason=(
        "compares the pinned taxi sample with the one models/ ships; after `mlops init` "
        "models/ holds your project, so there is nothing to compare"
    ),
)


def test_the_pinned_feature_roles_are_the_samples() -> None:
    assert {name: getattr(F, name) for name in project.TAXI_ROLES} == project.TAXI_ROLES


def test_the_pinned_schema_and_drift_thresholds_are_the_samples() -> None:
    assert project.taxi_schema() == load_schema(SCHEMA_FILE)
    assert project.TAXI_DRIFT.read_text() == THRESHOLDS_FILE.read_text()


def test_the_pinned_config_values_are_the_samples() -> None:
    cfg = config.load("dev")
    for section, values in project.TAXI_CONFIG.items():
        for key, value in values.items():
            assert getattr(getattr(cfg, section), key) == value, (section, key)
