"""The curated schema, drafted: TFDV infers it from the spans as CsvExampleGen types them, then
init curates it from the plan.

Curation: presence required for columns never missing, at most one value per example, domains for
categoricals (the values seen), ranges for numbers (the values seen widened by a margin, and not
below 0 when nothing was negative), the label kept out of serving requests. Each feature block is
preceded by a `# draft:` comment saying what was decided, for a person to review.
"""

from __future__ import annotations

import math
from pathlib import Path

from tensorflow_metadata.proto.v0 import schema_pb2

from components.data_gate import span_statistics
from scaffold.plan import Plan
from scaffold.render import DRAFT

# Ranges reach this share of the seen range beyond each end: new spans vary a little.
RANGE_MARGIN = 0.5


def _range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    spread = (high - low) * RANGE_MARGIN or max(1.0, abs(high) * RANGE_MARGIN)
    lower = low - spread
    if low >= 0:
        lower = max(0.0, lower)
    return lower, high + spread


def curate(schema: schema_pb2.Schema, plan: Plan) -> dict[str, str]:
    """Curate `schema` in place; a note per feature saying what was drafted."""
    roles = {r.column: r for r in plan.roles}
    notes: dict[str, str] = {}
    del schema.string_domain[:]
    schema.ClearField("default_environment")
    schema.default_environment.extend(["TRAINING", "SERVING"])
    for feature in schema.feature:
        column = plan.table.columns[feature.name]
        for name in ("domain", "int_domain", "float_domain", "string_domain", "shape"):
            feature.ClearField(name)
        feature.ClearField("presence")
        feature.ClearField("value_count")
        said = []
        if column.missing_share == 0:
            feature.presence.min_fraction = 1.0
            feature.presence.min_count = 1
            feature.value_count.min = 1
            said.append("required")
        else:
            feature.presence.min_count = 0
            said.append(f"optional ({column.missing_share:.0%} missing)")
        feature.value_count.max = 1
        is_label = feature.name == plan.task.label
        role = roles.get(feature.name)
        categorical = (is_label and plan.task.kind != "regression") or (
            role is not None and role.role == "vocabulary"
        )
        if feature.type == schema_pb2.BYTES and categorical:
            feature.string_domain.value.extend(sorted(set(column.present())))
            said.append(f"domain of the {len(feature.string_domain.value)} values seen")
        elif feature.type == schema_pb2.INT and column.kind == "int":
            low, high = _range(column.numbers())
            feature.int_domain.min = math.floor(low)
            feature.int_domain.max = math.ceil(high)
            said.append(f"range [{feature.int_domain.min}, {feature.int_domain.max}]")
        elif feature.type == schema_pb2.FLOAT:
            low, high = _range(column.numbers())
            feature.float_domain.min = round(low, 6)
            feature.float_domain.max = round(high, 6)
            said.append(f"range [{feature.float_domain.min:g}, {feature.float_domain.max:g}]")
        if is_label:
            feature.not_in_environment.append("SERVING")
            said.append("the label: not in serving requests")
        elif role is not None and role.role == "unused":
            said.append(f"unused by the model: {role.reason}")
        notes[feature.name] = ", ".join(said)
    return notes


def to_text(schema: schema_pb2.Schema, notes: dict[str, str], source: str) -> str:
    """The schema as pbtxt, a `# draft:` comment above each feature."""
    from google.protobuf import text_format

    lines = [
        f"# Curated schema drafted by `mlops init` from {source}: TFDV's inference, then curated.",
        f"# Lines marked `{DRAFT}` are decisions to check before this schema guards new spans.",
        "",
    ]
    lines += [f'default_environment: "{env}"' for env in schema.default_environment]
    lines.append("")
    for feature in schema.feature:
        body = text_format.MessageToString(feature, as_one_line=False).rstrip("\n")
        lines.append(f"{DRAFT}: {notes.get(feature.name, '')}")
        lines.append("feature {")
        lines += [f"  {line}" for line in body.splitlines()]
        lines.append("}")
    return "\n".join(lines) + "\n"


def draft(plan: Plan, span_paths: list[Path]) -> str:
    """Infer from the span files (as the pipeline will read them) and curate."""
    import tensorflow_data_validation as tfdv

    stats, _ = span_statistics([str(p) for p in span_paths])
    schema = tfdv.infer_schema(stats)
    notes = curate(schema, plan)
    return to_text(schema, notes, plan.table.source)
