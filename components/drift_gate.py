"""The drift gate: after the data gate, before Transform.

Two checks on the newest span (the one CsvExampleGen ingested in this run):
- it holds at least `data.min_examples` rows, so an empty or tiny span stops here with "no
  examples" instead of reaching the Trainer;
- its distribution, per feature and for the label (computed here as models/features.py defines
  it, as the Transform computes it), has not moved past the thresholds of models/schema/drift.yaml
  against the spans the environment's released model was trained on. With `drift.mode: stop` the
  run ends here (nothing is trained or pushed); with `warn` it goes on and the summary says so.
The report (drift.json, drift.md) names each feature, measure, value and threshold.
"""

# No `from __future__ import annotations`: the @component decorator reads real type objects.
import json
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact, Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, standard_artifacts

from components.data_gate import DataValidationReport
from core.verdicts import Verdict
from ct import drift
from models import features as F


class DriftReport(artifact.Artifact):
    """The drift gate's verdict and report; its presence means the run went on."""

    TYPE_NAME = "tfx_template.DriftReport"


def label_values(table: Any) -> np.ndarray:
    """The Transform's label per row, as models/features.py defines it (taxi: tips above
    TIP_FRACTION of the fare, 1.0 or 0.0; multiclass: the class id; regression: the value); NaN
    where it cannot be computed, so drift compares labelled rows only."""

    def column(name: str) -> np.ndarray:
        if name not in table.column_names:
            return np.full(table.num_rows, np.nan)
        return table.column(name).to_numpy().astype(np.float64)

    def texts() -> list[str | None]:
        if F.LABEL_COLUMN not in table.column_names:
            return [None] * table.num_rows
        return [None if v is None else str(v) for v in table.column(F.LABEL_COLUMN).to_pylist()]

    if F.TASK == "regression":
        return column(F.LABEL_COLUMN)
    if F.TASK == "multiclass":
        ids = {c: float(i) for i, c in enumerate(F.CLASSES)}
        # A value outside the classes is drift too: it counts as its own id, -1.
        return np.array([np.nan if v is None else ids.get(v, -1.0) for v in texts()])
    if F.POSITIVE_CLASS is not None:
        return np.array([np.nan if v is None else float(v == F.POSITIVE_CLASS) for v in texts()])
    raw = column(F.LABEL_COLUMN)
    bound = np.full(table.num_rows, F.LABEL_THRESHOLD or 0.0)
    if F.LABEL_THRESHOLD_OF is not None:
        bound = bound * column(F.LABEL_THRESHOLD_OF)
    labelled = ~(np.isnan(raw) | np.isnan(bound))
    return np.where(labelled, (raw > bound).astype(np.float64), np.nan)


def load_thresholds(schema: schema_pb2.Schema, path: Path | None = None) -> list[drift.Threshold]:
    """models/schema/drift.yaml (or `path`), checked against the schema and the model's label."""
    return drift.load_thresholds(schema, path, label=F.LABEL_KEY)[1]


def _span_files(pattern: str, span: int) -> list[str]:
    from ct.spans import _glob

    return sorted(_glob(pattern.replace("{SPAN}", str(span))))


@component
def DriftGate(
    examples: InputArtifact[standard_artifacts.Examples],
    schema: InputArtifact[standard_artifacts.Schema],
    data_report: InputArtifact[DataValidationReport],
    report: OutputArtifact[DriftReport],
    data_pattern: Parameter[str],
    baseline_spans: Parameter[str],
    thresholds: Parameter[str],
    mode: Parameter[str],
    min_examples: Parameter[int],
    baseline_note: Parameter[str] = "",
) -> None:
    """Stop on a span that is too small, or (mode stop) drifted; record the verdict."""
    del data_report  # an input only so that this gate runs after the data gate passed
    with open(f"{schema.uri}/schema.pbtxt") as f:
        parsed = text_format.Parse(f.read(), schema_pb2.Schema())
    limits = drift.parse_thresholds(thresholds, parsed, label=F.LABEL_KEY)
    span = examples.get_int_custom_property("span")
    baseline = [int(s) for s in json.loads(baseline_spans or "[]")]
    baseline_paths = [p for s in baseline for p in _span_files(data_pattern, s)]
    note = baseline_note
    if baseline and not baseline_paths:
        note = (
            f"the released model's training spans {baseline} are not under "
            f"{data_pattern}; drift was not measured"
        )
    elif not baseline and not note:
        note = "no released model to compare with; drift was not measured"
    verdict = drift.judge(
        _span_files(data_pattern, span),
        baseline_paths,
        parsed,
        limits,
        mode=mode,
        span=span,
        baseline_spans=baseline,
        min_examples=min_examples,
        note=note,
        label=label_values,
    )
    drift.write_report(verdict, report.uri)
    report.set_string_custom_property("verdict", verdict.verdict)
    if verdict.verdict != Verdict.FAIL:
        return
    if verdict.examples < min_examples:
        raise drift.DriftError(
            f"{verdict.note}: the drift gate stopped the run before Transform; nothing was "
            f"trained or pushed. Add rows to span {span} (or lower data.min_examples if such "
            f"small spans are intended).",
            verdict,
        )
    raise drift.DriftError(
        f"drift gate (drift.mode=stop): span {span} drifted from span(s) "
        f"{', '.join(map(str, baseline))}, the released model's training data, on "
        f"{len(verdict.drifted)} feature(s); Transform and Trainer did not run and nothing was "
        f"pushed.\n"
        + "\n".join(f"  {d.line()}" for d in verdict.drifted)
        + "\nIf the change is real and expected, retrain with `drift.mode: warn` in the "
        "environment's overlay or raise the threshold in models/schema/drift.yaml; "
        "otherwise fix the data.",
        verdict,
    )
