"""Which model the Evaluator compares a candidate against.

The stock LatestBlessedModelStrategy returns the newest blessed model. On a re-run with nothing
changed, the cached Trainer hands back the same candidate, which the previous run blessed; the
stock strategy then offers the candidate as its own baseline, the Evaluator's inputs change, and
the run evaluates and pushes again. This strategy returns the newest blessed model *older than the
candidate*, so an unchanged re-run resolves exactly what the first run did and stays cached.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.common import resolver

BLESSED = "blessed"
CURRENT_MODEL_ID = "current_model_id"


class BaselineModelStrategy(resolver.ResolverStrategy):
    """Inputs: `candidate` (this run's model), `model` and `model_blessing` (all of them)."""

    def resolve_artifacts(self, store: Any, input_dict: dict[str, list[types.Artifact]]
                          ) -> dict[str, list[types.Artifact]] | None:
        candidates = input_dict.get("candidate", [])
        newest_allowed = min(a.id for a in candidates) if candidates else None
        blessed = {b.get_int_custom_property(CURRENT_MODEL_ID): b
                   for b in input_dict.get("model_blessing", [])
                   if b.get_int_custom_property(BLESSED) == 1}
        result: dict[str, list[types.Artifact]] = {"model": [], "model_blessing": []}
        for model in sorted(input_dict.get("model", []), key=lambda a: a.id, reverse=True):
            if newest_allowed is not None and model.id >= newest_allowed:
                continue
            if model.id in blessed:
                result = {"model": [model], "model_blessing": [blessed[model.id]]}
                break
        return {**result, "candidate": candidates}
