"""The Pusher's executor: the stock TFX Pusher's blessing check, writing into our model store.

The destination (`push_destination.filesystem.base_directory`) is any store `model_store`
opens: a folder, a bucket, or an OCI registry. Two guarantees on top of the stock executor:
- atomic: a version appears whole or not at all (folder: hidden sibling + rename; bucket:
  saved_model.pb last; registry: the manifest is written after its blobs);
- idempotent: when the newest version already holds a byte-identical model (same tree
  digest), nothing new is written and that version is reported.
A registry artifact also carries its provenance as annotations: model name, version, source
commit, pipeline run, tree digest and the Evaluator's overall metrics.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from core.provenance import git_commit
from store.model_store import Artifact, model_digest, open_store
from store.oci import PREFIX

DIGEST_PROPERTY = "model_digest"


def overall_metrics(blessing_uri: str) -> dict[str, float]:
    """The Evaluator's overall-slice metrics, found beside its blessing output; a metric TFMA
    left undefined (NaN) is left out, so the annotation stays strict JSON."""
    import tensorflow_model_analysis as tfma

    blessing = Path(blessing_uri)
    evaluation = blessing.parent.parent / "evaluation" / blessing.name
    if not evaluation.is_dir():
        return {}
    for per_slice in tfma.load_metrics(str(evaluation)):
        if per_slice.slice_key.single_slice_keys:
            continue
        return {
            kv.key.name: round(kv.value.double_value.value, 6)
            for kv in per_slice.metric_keys_and_values
            if not kv.key.is_diff
            and kv.key.model_name != "baseline"
            and kv.value.HasField("double_value")
            and math.isfinite(kv.value.double_value.value)
        }
    return {}


class Executor(pusher_executor.Executor):
    """Drop-in replacement for tfx.components.pusher.executor.Executor."""

    def Do(
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination
        )
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        store = open_store(destination.filesystem.base_directory)
        model_path = Path(self.GetModelPath(input_dict))
        digest = model_digest(model_path)
        newest = store.newest()
        if newest is not None and newest.tree_digest == digest:
            artifact: Artifact = newest
            model_push.set_int_custom_property("reused_version", 1)
        else:
            # Epoch seconds like the stock Pusher, but always above the newest existing version.
            version = max(int(time.time()), (newest.version + 1) if newest else 0)
            name = store.uri.rstrip("/").rsplit("/", 1)[-1]
            artifact = store.publish(
                model_path, version, self._annotations(input_dict, name, version)
            )
        # The pushed_model artifact records where the model went, not a second copy of it.
        self._MarkPushed(
            model_push, pushed_destination=artifact.ref, pushed_version=str(artifact.version)
        )
        model_push.set_string_custom_property(DIGEST_PROPERTY, digest)

    def _annotations(
        self, input_dict: dict[str, list[Any]], name: str, version: int
    ) -> dict[str, str]:
        blessing = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.MODEL_BLESSING_KEY]
        )
        run = (self._context.pipeline_run_id if self._context else None) or ""
        return {
            PREFIX + "name": name,
            PREFIX + "source-commit": git_commit(),
            PREFIX + "pipeline-run": run,
            PREFIX + "metrics": json.dumps(overall_metrics(blessing.uri), sort_keys=True),
            "org.opencontainers.image.version": str(version),
            "org.opencontainers.image.revision": git_commit(),
        }
