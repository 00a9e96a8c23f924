"""`mlops status` and a promotion's figures say that an rmse improves downwards, so a smaller
number reads as the better model; a classification metric's figure stays as it was."""

from __future__ import annotations

from pathlib import Path

import yaml

from delivery import status
from delivery.promotion import Delivery
from report import releases
from store import release as rel


def _rmse_gate(environments: Path) -> None:
    """Every environment gated on rmse: the base and the cloud layer take a ceiling."""
    for path, evaluation, decay in (
        (environments / "base" / "config.yaml", {"metric": "rmse", "upper_bound": 3.5}, 3.7),
        (environments / "cloud.yaml", {"upper_bound": 3.4}, 3.6),
    ):
        data = yaml.safe_load(path.read_text())
        data["evaluation"].pop("lower_bound", None)  # absent in a regression project
        data["evaluation"].update(evaluation, max_regression=0.05)
        data["continuous_training"].pop("decay_floor", None)
        data["continuous_training"]["decay_ceiling"] = decay
        path.write_text(yaml.safe_dump(data))


def _release(environments: Path, metrics: dict[str, float]) -> None:
    current = rel.Release(
        model_name="m",
        version=3,
        digest="sha256:" + "c" * 64,
        uri="x",
        promoted_from="pipeline",
        metrics=metrics,
        spans=[1],
    )
    rel.write(environments, rel.Record(environment="dev", current=current))


def test_status_and_figures_say_an_rmse_is_better_lower(environments: Path) -> None:
    _rmse_gate(environments)
    _release(environments, {"rmse": 3.1234, "example_count": 400.0})
    lines = status.table(Delivery(environments)).splitlines()
    (dev,) = [line for line in lines if line.startswith("dev ")]
    assert "rmse 3.1234 (lower is better)" in dev
    assert "| rmse (gated, lower is better) | 3.1234 |" in releases.headline(environments, "dev")


def test_a_classification_figure_is_unchanged() -> None:
    assert status.figure("auc", 0.91234) == "auc 0.9123"
    assert status.figure("accuracy", None) == "-"
