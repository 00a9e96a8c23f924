"""The window's choice per span: unchanged data resolves to the same Examples artifact.

A span is ingested again whenever its role changes (an older span of the window gets its own
CsvExampleGen run; a span is the newest again once a refused span's files are removed). Each
re-ingestion is a new artifact with the same content. If the window took it, Transform and Trainer
would re-run on unchanged data and the Pusher would publish a new version of the same model;
that is what happened after a refused span 3 was removed and its empty folder left behind.
"""

from __future__ import annotations

from tfx.types import standard_artifacts

from components.window import SpanWindowStrategy

FIRST = "split:span,num_files:1,total_bytes:52911,xor_checksum:1767225600,sum_checksum:1767225600"
EDITED = "split:span,num_files:1,total_bytes:53002,xor_checksum:1767312000,sum_checksum:1767312000"


def _examples(artifact_id: int, span: int, fingerprint: str = ""):
    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.set_int_custom_property("span", span)
    if fingerprint:
        artifact.set_string_custom_property("input_fingerprint", fingerprint)
    return artifact


def _resolve(spans: list[int], ingested: list) -> list[int]:
    result = SpanWindowStrategy(spans=spans).resolve_artifacts(None, {"examples": ingested})
    assert result is not None
    return [a.id for a in result["examples"]]


def test_a_re_ingested_unchanged_span_resolves_to_its_first_ingestion() -> None:
    """Run 1 ingests span 1 (id 1); a refused span 2 makes span 1 an older span, ingested
    again in its own run (id 3); span 2's data is removed. The window is span 1 again, and
    must be the artifact run 1 trained on, so that every later step is reused from cache."""
    ingested = [_examples(1, 1, FIRST), _examples(2, 2, EDITED), _examples(3, 1, FIRST)]
    assert _resolve([1], ingested) == [1]
    assert _resolve([1, 2], ingested) == [1, 2]


def test_a_span_whose_files_changed_resolves_to_the_newest_ingestion() -> None:
    ingested = [_examples(1, 1, FIRST), _examples(4, 1, EDITED), _examples(5, 1, EDITED)]
    assert _resolve([1], ingested) == [4]  # the first ingestion of the current content
    back = [*ingested, _examples(6, 1, FIRST)]  # the edit reverted: the old content again
    assert _resolve([1], back) == [1]


def test_without_a_fingerprint_the_newest_ingestion_counts() -> None:
    assert _resolve([1], [_examples(1, 1), _examples(3, 1)]) == [3]
