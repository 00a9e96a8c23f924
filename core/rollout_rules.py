"""Checks on `rollout` that pydantic's per-field bounds cannot express: a canary's steps make
sense only in order, and a bad one must be refused at load with its key, not by Argo Rollouts
in the cluster after the release was merged."""

from __future__ import annotations

from collections.abc import Iterator

from core.config_models import RolloutConfig


def rollout_problems(rollout: RolloutConfig) -> Iterator[tuple[str, str]]:
    """(key path, message) for each problem of `rollout`, first in file order."""
    if rollout.strategy != "canary":
        if rollout.steps:
            yield (
                "rollout.steps",
                f"only a canary has steps (strategy is {rollout.strategy!r}): "
                "remove them or set rollout.strategy: canary",
            )
        return
    if not rollout.steps:
        yield "rollout.steps", "a canary needs at least one step (set_weight or pause_seconds)"
        return
    last = 0
    for i, step in enumerate(rollout.steps):
        key = f"rollout.steps[{i}]"
        if (step.set_weight is None) == (step.pause_seconds is None):
            yield key, "each step sets exactly one of set_weight and pause_seconds"
            continue
        if step.set_weight is not None:
            if step.set_weight <= last:
                yield (
                    f"{key}.set_weight",
                    f"weights must increase (the previous step set {last}), got {step.set_weight}",
                )
            last = step.set_weight
    if last == 0:
        yield (
            "rollout.steps",
            "a canary needs a set_weight step: with pauses only the candidate gets no traffic "
            "to analyse before it takes all of it",
        )
