"""The report's key charts as Mermaid `xychart-beta` blocks, which GitHub renders in job summaries.

Mermaid has no way to draw "no value", so a slice whose metric is undefined is left out of the
chart and listed under it in words, never drawn as 0.
"""

from __future__ import annotations

import json
import math

from core import metrics
from report.page import Inputs


def _values(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.4f}" for v in values) + "]"


def _labels(labels: list[str]) -> str:
    return "[" + ", ".join(json.dumps(label) for label in labels) + "]"


def _axis_end(metric: str, values: list[float]) -> str:
    """1 for a fraction; for an error such as rmse, a little past the largest value."""
    if metric in metrics.GATED_METRICS and metrics.lower_is_better(metric):
        return f"{max(values, default=1.0) * 1.1:.4f}"
    return "1"


def slice_chart(inputs: Inputs) -> str:
    s = inputs.summary
    if s is None or not s.slices:
        return ""
    metric = s.gated_metric
    shown = [
        r
        for r in s.slices
        if metric not in r.undefined and math.isfinite(r.metrics.get(metric) or math.nan)
    ]
    out = [
        f"#### {metric} by slice (candidate)",
        "",
        "```mermaid",
        "xychart-beta",
        f'  title "{metric} by slice"',
        f"  x-axis {_labels([r.slice for r in shown])}",
        f'  y-axis "{metric}" 0 --> {_axis_end(metric, [r.metrics[metric] or 0.0 for r in shown])}',
        f"  bar {_values([r.metrics[metric] or 0.0 for r in shown])}",
        "```",
    ]
    undefined = [f"{r.slice} ({r.undefined[metric]})" for r in s.slices if metric in r.undefined]
    if undefined:
        out += ["", f"Undefined {metric}, not drawn: " + ", ".join(undefined)]
    return "\n".join(out)


def loss_chart(inputs: Inputs) -> str:
    h = inputs.history or {}
    series = {k: v for k, v in h.items() if k in ("loss", "val_loss") and v}
    if not series:
        return ""
    epochs = max(len(v) for v in series.values())
    top = max(max(v) for v in series.values())
    out = [
        "#### Training loss by epoch (" + ", ".join(series) + ")",
        "",
        "```mermaid",
        "xychart-beta",
        '  title "loss by epoch"',
        f"  x-axis {_labels([str(i) for i in range(1, epochs + 1)])}",
        f'  y-axis "loss" 0 --> {top * 1.1:.4f}',
        *[f"  line {_values(v)}" for v in series.values()],
        "```",
    ]
    return "\n".join(out)


def charts(inputs: Inputs, report_name: str = "run-report") -> str:
    """The job summary's chart section; names the artifact that holds the full report."""
    blocks = [b for b in (slice_chart(inputs), loss_chart(inputs)) if b]
    head = f"### Run report\n\nThe whole report is the `{report_name}` artifact (report.html)."
    return "\n\n".join([head, *blocks]) + "\n"
