"""The Evaluator's executor: the stock TFX Evaluator, plus one rule for slice thresholds.

A metric that a slice cannot define is NaN in TFMA's output (AUC on a slice with one class, see
models.evaluation.TwoClassAUC), and TFMA fails every threshold on a NaN. On the overall slice
that is right: a model whose gated metric cannot be computed is not blessed, and the summary says
why. A threshold on one slice (per-slice thresholds a team adds) says nothing about the model
when the slice has no defined value, so it is skipped instead: the skipped failures are kept in
`skipped_thresholds.pb` beside TFMA's output (the run summary lists them), and the blessing is
decided without them.
"""

from __future__ import annotations

import math
import os
from typing import Any

import tensorflow as tf
from tensorflow_model_analysis.proto import validation_result_pb2
from tfx.components.evaluator import component as evaluator_component
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils

SKIPPED_FILE = "skipped_thresholds.pb"  # a ValidationResult holding the skipped failures
VALIDATIONS_PATTERN = "validations*"


def _undefined(failure: validation_result_pb2.ValidationFailure) -> bool:
    return failure.metric_value.HasField("double_value") and math.isnan(
        failure.metric_value.double_value.value
    )


def skip_undefined_slices(
    result: validation_result_pb2.ValidationResult,
) -> tuple[validation_result_pb2.ValidationResult, validation_result_pb2.ValidationResult]:
    """TFMA's validation without the failures of single slices whose metric is undefined.

    Returns (what still counts, what was skipped). The overall slice, cross slices, and every
    failure with a value stay as TFMA decided them.
    """
    kept = validation_result_pb2.ValidationResult()
    kept.CopyFrom(result)
    del kept.metric_validations_per_slice[:]
    skipped = validation_result_pb2.ValidationResult()
    for per_slice in result.metric_validations_per_slice:
        single = len(per_slice.slice_key.single_slice_keys) > 0
        undefined = [f for f in per_slice.failures if single and _undefined(f)]
        counted = [f for f in per_slice.failures if not (single and _undefined(f))]
        for into, failures in ((kept, counted), (skipped, undefined)):
            if failures:
                entry = into.metric_validations_per_slice.add()
                entry.CopyFrom(per_slice)
                del entry.failures[:]
                entry.failures.extend(failures)
    kept.validation_ok = result.validation_ok or (
        not kept.metric_validations_per_slice
        and not result.missing_slices
        and not result.missing_cross_slices
        and not result.missing_thresholds
    )
    return kept, skipped


def read_skipped(evaluation_uri: str) -> validation_result_pb2.ValidationResult:
    """The thresholds the slice rule skipped in an evaluation (empty when none were)."""
    path = os.path.join(evaluation_uri, SKIPPED_FILE)
    if not tf.io.gfile.exists(path):
        return validation_result_pb2.ValidationResult()
    with tf.io.gfile.GFile(path, "rb") as f:
        return validation_result_pb2.ValidationResult.FromString(f.read())


def apply_slice_rule(evaluation_uri: str, blessing: Any) -> validation_result_pb2.ValidationResult:
    """Rewrite TFMA's validation and the blessing when undefined slices were all that failed."""
    (validations,) = tf.io.gfile.glob(os.path.join(evaluation_uri, VALIDATIONS_PATTERN))
    result = validation_result_pb2.ValidationResult.FromString(
        next(iter(tf.compat.v1.io.tf_record_iterator(validations)))
    )
    kept, skipped = skip_undefined_slices(result)
    if not skipped.metric_validations_per_slice:
        return skipped
    with tf.io.gfile.GFile(os.path.join(evaluation_uri, SKIPPED_FILE), "wb") as f:
        f.write(skipped.SerializeToString())
    with tf.io.TFRecordWriter(validations) as writer:
        writer.write(kept.SerializeToString())
    if kept.validation_ok and not result.validation_ok:
        not_blessed = os.path.join(blessing.uri, constants.NOT_BLESSED_FILE_NAME)
        if tf.io.gfile.exists(not_blessed):
            tf.io.gfile.remove(not_blessed)
        io_utils.write_string_file(os.path.join(blessing.uri, constants.BLESSED_FILE_NAME), "")
        blessing.set_int_custom_property(
            constants.ARTIFACT_PROPERTY_BLESSED_KEY, constants.BLESSED_VALUE
        )
    return skipped


class Executor(evaluator_executor.Executor):
    """Drop-in replacement for tfx.components.evaluator.executor.Executor."""

    def Do(
        self,
        input_dict: dict[str, list[Any]],
        output_dict: dict[str, list[Any]],
        exec_properties: dict[str, Any],
    ) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        blessings = output_dict.get(standard_component_specs.BLESSING_KEY) or []
        evaluation = artifact_utils.get_single_uri(
            output_dict[standard_component_specs.EVALUATION_KEY]
        )
        if blessings and tf.io.gfile.glob(os.path.join(evaluation, VALIDATIONS_PATTERN)):
            apply_slice_rule(evaluation, blessings[0])


class Evaluator(evaluator_component.Evaluator):
    """The stock Evaluator component, run by the Executor above (same node id, same inputs)."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
