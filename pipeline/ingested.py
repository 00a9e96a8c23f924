"""Which spans ML Metadata already holds, so a local run does not ingest them again.

A span is first ingested as the newest span, by the full pipeline's CsvExampleGen (no range
config); when a newer span arrives it becomes an older span of the window, ingested by a one-node
run with a static range. The two differ in their execution properties, so TFX's cache does not
match them and the span was read and written a second time. The window resolver
(components/window.py) takes per span the first ingestion of its current content, so an
ingestion with the same content fingerprint is all the run needs.
"""

from __future__ import annotations

from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.orchestration import metadata
from tfx.proto import example_gen_pb2, range_config_pb2
from tfx.types import artifact_utils

from components.window import FINGERPRINT, span_of
from core.config import EnvironmentConfig

EXAMPLE_GEN = "CsvExampleGen"


def content_fingerprint(cfg: EnvironmentConfig, span: int) -> str:
    """The `input_fingerprint` CsvExampleGen would record for `span`'s files as they are now."""
    splits = [example_gen_pb2.Input.Split(name="span", pattern=cfg.data.input_pattern)]
    fingerprint, _, _ = example_gen_utils.calculate_splits_fingerprint_span_and_version(
        cfg.data.root,
        splits,
        range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(start_span_number=span, end_span_number=span)
        ),
    )
    return fingerprint


def is_ingested(cfg: EnvironmentConfig, span: int) -> bool:
    """True when this pipeline's CsvExampleGen produced a live Examples artifact of `span` with
    the span's current content (files, sizes and modification times)."""
    if not Path(cfg.paths.metadata).is_file():
        return False
    store = metadata_store.MetadataStore(
        metadata.sqlite_metadata_connection_config(cfg.paths.metadata)
    )
    node = store.get_context_by_type_and_name("node", f"{cfg.pipeline_name}.{EXAMPLE_GEN}")
    if node is None:
        return False
    current = content_fingerprint(cfg, span)
    return any(
        artifact.mlmd_artifact.state == metadata_store_pb2.Artifact.LIVE
        and span_of(artifact) == span
        and artifact.get_string_custom_property(FINGERPRINT) == current
        for artifact in _examples(store, node.id)
    )


def _examples(store: metadata_store.MetadataStore, context_id: int) -> list[types.Artifact]:
    examples = store.get_artifact_type("Examples")
    return [
        artifact_utils.deserialize_artifact(examples, a)
        for a in store.get_artifacts_by_context(context_id)
        if a.type_id == examples.id
    ]
