"""The rolling training window: the newest K spans' Examples, one artifact per span.

CsvExampleGen ingests one span per run (TFX 1.16 allows only a single-span static range), so the
older spans of the window come from ML Metadata: every span ingested under this pipeline is an
Examples artifact carrying its `span`. The stock SpanRangeStrategy would return every artifact in
range, including stale re-ingestions of the same span; this one keeps the newest artifact per span
and never looks past the span ingested in this run (`newest`), so a span folder deleted after it
was ingested cannot creep back into training.
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
    """Inputs: `newest` (this run's ExampleGen output) and `examples` (every ingested span)."""

    def __init__(self, num_spans: int) -> None:
        self._num_spans = num_spans

    def resolve_artifacts(self, store: Any, input_dict: dict[str, list[types.Artifact]]
                          ) -> dict[str, list[types.Artifact]] | None:
        newest = input_dict.get("newest", [])
        if not newest:
            return None
        last = max(span_of(a) for a in newest)
        per_span: dict[int, types.Artifact] = {}
        for candidate in [*input_dict.get("examples", []), *newest]:
            span = span_of(candidate)
            if span <= last and (span not in per_span or candidate.id > per_span[span].id):
                per_span[span] = candidate
        chosen = sorted(per_span)[-self._num_spans:]
        return {"examples": [per_span[s] for s in chosen], "newest": newest}
