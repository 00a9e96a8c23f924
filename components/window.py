"""The rolling training window: the newest K spans' Examples, one artifact per span.

CsvExampleGen ingests one span per run (TFX 1.16 allows only a single-span static range), so the
older spans of the window come from ML Metadata: every span ingested under this pipeline is an
Examples artifact carrying its `span`. The stock SpanRangeStrategy returns every artifact in a
range, stale re-ingestions of a span included, and picks the range from whatever ML Metadata
holds; this one takes the window's span numbers from the run (the newest K span folders that
exist now) and, per span, the newest artifact.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.common import resolver

SPAN = "span"


def span_of(artifact: types.Artifact) -> int:
    text = artifact.get_string_custom_property(SPAN)
    return int(text) if text else artifact.get_int_custom_property(SPAN)


class SpanWindowStrategy(resolver.ResolverStrategy):
    """Input `examples`: every Examples artifact CsvExampleGen produced in this pipeline."""

    def __init__(self, spans: list[int]) -> None:
        self._spans = set(spans)

    def resolve_artifacts(
        self, store: Any, input_dict: dict[str, list[types.Artifact]]
    ) -> dict[str, list[types.Artifact]] | None:
        per_span: dict[int, types.Artifact] = {}
        for candidate in input_dict.get("examples", []):
            span = span_of(candidate)
            if span in self._spans and (span not in per_span or candidate.id > per_span[span].id):
                per_span[span] = candidate
        if set(per_span) != self._spans:
            return None  # a span of the window was never ingested: nothing to train on
        return {"examples": [per_span[s] for s in sorted(per_span)]}
