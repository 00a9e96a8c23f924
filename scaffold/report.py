"""The plan as a person reads it: what was decided, then the review list, file by file."""

from __future__ import annotations

from scaffold.plan import Plan


def describe(plan: Plan) -> str:
    t, b = plan.task, plan.baseline
    lines = [
        f"Data: {plan.table.source}, {plan.table.rows} rows, {len(plan.table.columns)} columns",
        f"Task: {t.kind} on {t.label!r} ({t.reason})"
        + (f", positive class {t.positive!r}" if t.kind == "binary" else "")
        + (f", classes {', '.join(t.classes)}" if t.kind == "multiclass" else ""),
        f"Gated metric: {b.metric} ({'lower' if b.lower_is_better else 'higher'} is better): "
        f"{'at most' if b.lower_is_better else 'at least'} {b.floor}; trivial baseline "
        f"{b.baseline} ({b.how})",
        f"Spans: {plan.spans.count} ({plan.spans.how}): "
        + ", ".join(
            f"{label} {n} rows"
            for label, n in zip(plan.spans.labels, plan.spans.sizes(), strict=True)
        ),
        f"Window {plan.window_spans} span(s), min_examples {plan.min_examples}, batch "
        f"{plan.batch_size}, {plan.train_steps} train steps",
        f"Slices: {', '.join(plan.slices) or 'none'}",
        f"Load-test rows: {len(plan.loadtest_rows)} held-out rows",
        "Columns:",
    ]
    width = max(len(r.column) for r in plan.roles)
    lines += [f"  {r.column:<{width}}  {r.role:<10}  {r.reason}" for r in plan.roles]
    lines.append("Review (drafted decisions, by file):")
    for file in dict.fromkeys(f for f, _ in plan.review):
        lines.append(f"  {file}")
        lines += [f"    - {what}" for f, what in plan.review if f == file]
    return "\n".join(lines)
