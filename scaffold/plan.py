"""Every decision `mlops init` makes, from one read of the data, before anything is written.

`decide` runs the checks and the decisions in order and returns a Plan; any bad input raises a
ConfigError naming the file, the column and the value, so the writers never start on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from scaffold import baseline, drift, gates, roles, slices, spans, table, task

# Below this, a split leaves too few rows to train on and to judge a model by.
MIN_ROWS = 200
# The pipeline's min_examples gate for a newest span: at most the template's 1,000.
MAX_MIN_EXAMPLES = 1000
LOADTEST_ROWS = 500
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Request:
    """The command line of `mlops init`."""

    data: Path
    label: str
    task: str = "auto"
    positive: str | None = None
    name: str | None = None
    span_by: str | None = None
    period: str = "month"


@dataclass
class Plan:
    name: str
    table: table.Table
    task: task.Task
    roles: list[roles.Role]
    spans: spans.Spans
    baseline: baseline.Baseline
    slices: list[str]
    drift: list[drift.DriftThreshold]
    min_examples: int
    window_spans: int
    batch_size: int
    train_steps: int
    loadtest_rows: list[int] = field(repr=False)
    review: list[tuple[str, str]] = field(default_factory=list)


def default_name(path: Path) -> str:
    stem = re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_") or "model"
    return stem if stem[0].isalpha() else f"m_{stem}"


def _check_name(name: str) -> str:
    if not NAME.match(name):
        raise ConfigError(
            f"--name {name!r}: lower-case letters, digits and _ only, starting with a letter "
            f"(at most 63 characters): it names the model, the pipeline and the registry "
            f"repository"
        )
    return name


def _read(request: Request) -> table.Table:
    if request.data.is_dir():
        files, numbers = spans.layout_files(request.data)
        return table.read_tables(files, numbers)
    return table.read_csv(request.data)


def decide(request: Request) -> Plan:
    """The whole plan, or a ConfigError before anything is written."""
    rows = _read(request)
    name = _check_name(request.name or default_name(request.data))
    if rows.rows < MIN_ROWS:
        raise ConfigError(
            f"{rows.source}: {rows.rows} data rows, fewer than the {MIN_ROWS} the gates need "
            f"(training, evaluation and the load test each take a share); add rows"
        )
    chosen = task.decide_task(rows, request.label, request.task, request.positive)
    if request.span_by and rows.row_spans is not None:
        raise ConfigError("--span-by: the data is already laid out as span-N folders")
    if request.span_by:
        layout = spans.by_column(rows, request.span_by, request.period)
    elif rows.row_spans is not None:
        layout = spans.from_layout(rows)
    else:
        layout = spans.one_span(rows)
    decided = roles.decide_roles(rows, request.label)
    if not any(r.role != "unused" for r in decided):
        raise ConfigError(
            f"{rows.source}: no usable feature column: "
            + "; ".join(f"{r.column}: {r.reason}" for r in decided)
        )
    labels = [
        str(int(v))
        if rows.columns[request.label].kind == "int" and chosen.kind != "regression"
        else v
        for v in rows.columns[request.label].present()
    ]
    measured = baseline.measure(chosen, labels)
    sizes = layout.sizes()
    newest = sizes[-1]
    # The gate stops a newest span much smaller than this data's usual span.
    min_examples = min(MAX_MIN_EXAMPLES, max(1, newest // 2))
    window = min(layout.count, 4)
    in_window = sum(sizes[-window:])
    batch = 128 if in_window >= 4000 else max(16, min(128, in_window // 40 * 4 or 16))
    # About 20 passes over small data, capped at the template's 1,500 steps.
    steps = max(200, min(1500, in_window * 3 // 4 * 20 // batch))
    plan = Plan(
        name=name,
        table=rows,
        task=chosen,
        roles=decided,
        spans=layout,
        baseline=measured,
        slices=slices.draft_slices(rows, decided),
        drift=drift.draft_thresholds(
            rows, decided, layout, request.label, chosen.kind == "regression"
        ),
        min_examples=min_examples,
        window_spans=window,
        batch_size=batch,
        train_steps=steps,
        loadtest_rows=baseline.held_out(rows.rows)[:LOADTEST_ROWS],
    )
    plan.review = review_list(plan)
    return plan


def review_list(plan: Plan) -> list[tuple[str, str]]:
    """(file, what to check) for every drafted decision."""
    items = [
        ("models/task.yaml", f"task {plan.task.kind} ({plan.task.reason})"),
    ]
    if plan.task.kind == "binary":
        items.append(("models/task.yaml", f"positive class {plan.task.positive!r}"))
    for role in plan.roles:
        items.append(("models/features.py", f"{role.column}: {role.role} ({role.reason})"))
    b = plan.baseline
    direction = "at most" if b.lower_is_better else "at least"
    items.append(
        (
            "environments/base/config.yaml",
            f"evaluation: {b.metric} {direction} {b.floor} (baseline {b.baseline}: {b.how})",
        )
    )
    g = gates.draft(b)
    items.append(
        (
            "environments/base/config.yaml",
            f"evaluation.max_regression {g.max_regression} ({b.metric} units); "
            f"continuous_training.{g.decay_key} {g.base_decay}",
        )
    )
    items.append(
        (
            "environments/cloud.yaml",
            f"staging and prod: {b.metric} {direction} {g.cloud_bound}; "
            f"continuous_training.{g.decay_key} {g.cloud_decay}",
        )
    )
    items.append(
        ("environments/prod/config.yaml", f"evaluation.max_regression {g.prod_max_regression}")
    )
    items.append(("environments/base/config.yaml", f"evaluation.slices: {plan.slices or 'none'}"))
    items.append(
        (
            "environments/base/config.yaml",
            f"data: {plan.spans.count} span(s) {plan.spans.how}; window {plan.window_spans}, "
            f"min_examples {plan.min_examples}",
        )
    )
    for d in plan.drift:
        seen = "a default: one span" if d.observed is None else f"spans differ by {d.observed}"
        items.append(("models/schema/drift.yaml", f"{d.feature}: {d.threshold} ({seen})"))
    items.append(("models/schema/schema.pbtxt", "domains, presence and ranges (drafts)"))
    return items
