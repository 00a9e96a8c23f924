"""`rollout`: defaults per environment, and canary steps refused at load with their key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core import config
from core.errors import ConfigError


def test_dev_replaces_staging_shadows_and_prod_canaries() -> None:
    assert config.load("dev").rollout.strategy == "none"
    staging = config.load("staging").rollout
    assert staging.strategy == "shadow" and staging.mirror_percent == 10
    prod = config.load("prod").rollout
    assert prod.strategy == "canary"
    assert [s.set_weight for s in prod.steps if s.set_weight] == [10, 50]


def _with_rollout(environments: Path, env: str, rollout: dict) -> Path:
    path = environments / env / "config.yaml"
    data = yaml.safe_load(path.read_text())
    data["rollout"] = rollout
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("rollout", "key", "words"),
    [
        (
            {"strategy": "canary", "steps": [{"set_weight": 10, "pause_seconds": 60}]},
            "rollout.steps[0]",
            "exactly one of set_weight and pause_seconds",
        ),
        (
            {"strategy": "canary", "steps": [{"set_weight": 50}, {"set_weight": 20}]},
            "rollout.steps[1].set_weight",
            "weights must increase (the previous step set 50), got 20",
        ),
        ({"strategy": "canary", "steps": []}, "rollout.steps", "at least one step"),
        (
            {"strategy": "canary", "steps": [{"pause_seconds": 60}]},
            "rollout.steps",
            "needs a set_weight step",
        ),
        ({"strategy": "shadow", "steps": [{"set_weight": 5}]}, "rollout.steps", "only a canary"),
        (
            {"strategy": "canary", "steps": [{"set_weight": 0}]},
            "rollout.steps[0].set_weight",
            "must be >= 1, got 0",
        ),
        ({"strategy": "blue-green"}, "rollout.strategy", "blue-green"),
        (
            {"strategy": "canary", "steps": [{"setWeight": 10}]},
            "rollout.steps[0].setWeight",
            "",
        ),
    ],
)
def test_invalid_steps_are_refused_naming_the_key(
    environments: Path, rollout: dict, key: str, words: str
) -> None:
    _with_rollout(environments, "prod", rollout)
    with pytest.raises(ConfigError) as err:
        config.load("prod", environments)
    message = str(err.value)
    assert "environments/prod/config.yaml" in message
    assert key in message and words in message


def test_the_analysis_p99_defaults_to_the_load_test_slo(environments: Path) -> None:
    prod = config.load("prod", environments)
    assert prod.rollout.analysis.p99_ms is None  # rollout.analysis_p99 fills it in
    from delivery import analysis_queries

    assert analysis_queries.thresholds(prod).p99_ms == prod.loadtest.slo.p99_ms == 100
