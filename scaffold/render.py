"""The plan as file contents: the drift thresholds, the task spec and the span files.

Each function returns text (or rows) and writes nothing, so a test can hold the text to the
readers that will parse it (ct.drift for drift.yaml) and the writers stay a thin last step.
Every drafted value carries a `# draft:` comment a person can search for.
"""

from __future__ import annotations

import csv
import io

import yaml

from scaffold.plan import Plan

DRAFT = "# draft: review"


def drift_yaml(plan: Plan) -> str:
    """models/schema/drift.yaml: one threshold per feature the model uses, then the label.

    A class label goes in the `label:` section (shares of its classes); a regression label is a
    number, measured like any numeric feature.
    """
    lines = [
        f"# Drift thresholds drafted by `mlops init` from {plan.spans.count} span(s) "
        f"({plan.spans.how}).",
        "# Each is the largest change seen between consecutive spans x1.5, never below the "
        "sampling noise of",
        "# spans this small; with one span, a default. Read by the DriftGate and `mlops ct check`.",
        "features:",
    ]
    label_line = ""
    for d in plan.drift:
        seen = "one span: a default" if d.observed is None else f"spans differ by {d.observed}"
        entry = f"{{measure: {d.measure}, threshold: {d.threshold}}}  {DRAFT} ({seen})"
        if d.feature == plan.task.label and plan.task.kind != "regression":
            label_line = f"  {d.feature}: {entry}"
        else:
            lines.append(f"  {d.feature}: {entry}")
    if label_line:
        lines += ["label:", label_line]
    return "\n".join(lines) + "\n"


def task_spec(plan: Plan) -> str:
    """models/task.yaml: what the user code reads to build the label, the head and the roles."""
    roles: dict[str, list[object]] = {
        "zscore": [],
        "one_hot": [],
        "vocabulary": [],
        "cyclical": [],
        "unused": [],
    }
    for r in plan.roles:
        if r.role == "one_hot":
            roles["one_hot"].append({r.column: r.size})
        elif r.role == "cyclical":
            roles["cyclical"].append({r.column: list(r.parts)})
        elif r.role == "unused":
            roles["unused"].append({r.column: r.reason})
        else:
            roles[r.role].append(r.column)
    spec = {
        "name": plan.name,
        "task": plan.task.kind,
        "label": plan.task.label,
        "positive": plan.task.positive,
        "classes": list(plan.task.classes) if plan.task.kind == "multiclass" else [],
        "metric": plan.baseline.metric,
        "lower_is_better": plan.baseline.lower_is_better,
        "roles": roles,
    }
    header = (
        f"# Drafted by `mlops init` from {plan.table.source}: {DRAFT} each role and the task.\n"
    )
    return header + yaml.safe_dump(spec, sort_keys=False, default_flow_style=False)


def span_files(plan: Plan) -> dict[str, str]:
    """data/<name>/span-N/data.csv per span: the rows in their original order, header first."""
    header = list(plan.table.columns)
    columns = [plan.table.columns[name].values for name in header]
    out: dict[str, io.StringIO] = {}
    writers = {}
    for number in range(1, plan.spans.count + 1):
        out[f"span-{number}/data.csv"] = buffer = io.StringIO()
        writers[number] = csv.writer(buffer, lineterminator="\n")
        writers[number].writerow(header)
    for row, span in enumerate(plan.spans.of_row):
        writers[span].writerow(["" if col[row] is None else col[row] for col in columns])
    return {path: buffer.getvalue() for path, buffer in out.items()}


def loadtest_csv(plan: Plan) -> str:
    """Held-out rows without the label: serving never needs it."""
    header = [name for name in plan.table.columns if name != plan.task.label]
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(header)
    for row in plan.loadtest_rows:
        values = [plan.table.columns[name].values[row] for name in header]
        out.writerow(["" if v is None else v for v in values])
    return buffer.getvalue()
