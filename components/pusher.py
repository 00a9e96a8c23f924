"""The Pusher's executor: the stock TFX Pusher, made safe for a model server that polls.

Two changes to how the stock executor writes a filesystem destination:
- atomic: the model is copied into a hidden sibling (`.<version>.partial`) and renamed to its
  version number in one step, so TF Serving never loads a half-written version (it ignores
  non-numeric names). Object stores keep the stock behaviour (saved_model.pb copied last).
- idempotent: when the newest version in the store already holds a byte-identical model (same
  sha256 over the SavedModel tree), nothing new is written and that version is reported.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tfx.components.pusher import executor as pusher_executor
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from components.model_store import model_digest, publish_atomically, versions

DIGEST_PROPERTY = "model_digest"


class Executor(pusher_executor.Executor):
    """Drop-in replacement for tfx.components.pusher.executor.Executor."""

    def Do(self, input_dict: dict[str, list[Any]], output_dict: dict[str, list[Any]],
           exec_properties: dict[str, Any]) -> None:
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        base_dir = destination.filesystem.base_directory
        if "://" in base_dir:
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        model_path = self.GetModelPath(input_dict)
        digest = model_digest(model_path)
        existing = versions(base_dir)
        if existing and model_digest(Path(base_dir, str(existing[-1]))) == digest:
            version, path = existing[-1], Path(base_dir, str(existing[-1]))
            model_push.set_int_custom_property("reused_version", 1)
        else:
            # Epoch seconds like the stock Pusher, but always above the newest existing version.
            version = max(int(time.time()), (existing[-1] + 1) if existing else 0)
            path = publish_atomically(model_path, base_dir, version)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=str(path), pushed_version=str(version))
        model_push.set_string_custom_property(DIGEST_PROPERTY, digest)
