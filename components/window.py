"""The rolling training window: the newest K spans' Examples, one artifact per span.

CsvExampleGen ingests one span per run (TFX 1.16 allows only a single-span static range), so the
older spans of the window come from ML Metadata: every span ingested under this pipeline is an
Examples artifact carrying its `span`. The stock SpanRangeStrategy returns every artifact in a
range, stale re-ingestions of a span included, and picks the range from whatever ML Metadata
holds; this one takes the window's span numbers from the run (the newest K span folders that
exist now) and, per span, one artifact: the first one ingested from the span's current content.

Why the first and not the newest: a span is re-ingested whenever it becomes an older span of the
window (its own one-node run) or is the newest span again after a refused span was removed. That
is a new artifact with the same content; picking it would re-run Transform and Trainer on
unchanged data and publish a new version of the same model. The content is CsvExampleGen's
`input_fingerprint` (file count, bytes and modification times): when it differs, the newest
ingestion is the current content.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.common import resolver

SPAN = "span"
FINGERPRINT = "input_fingerprint"  # set by CsvExampleGen on its Examples artifact


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
        ingested: dict[int, list[types.Artifact]] = {}
        for candidate in input_dict.get("examples", []):
            if span_of(candidate) in self._spans:
                ingested.setdefault(span_of(candidate), []).append(candidate)
        if set(ingested) != self._spans:
            return None  # a span of the window was never ingested: nothing to train on
        return {"examples": [first_of_current_content(ingested[s]) for s in sorted(ingested)]}


def first_of_current_content(artifacts: list[types.Artifact]) -> types.Artifact:
    """Of one span's ingestions, the oldest with the newest one's content fingerprint."""
    newest = max(artifacts, key=lambda a: a.id)
    content = newest.get_string_custom_property(FINGERPRINT)
    if not content:
        return newest
    same = [a for a in artifacts if a.get_string_custom_property(FINGERPRINT) == content]
    return min(same, key=lambda a: a.id)
