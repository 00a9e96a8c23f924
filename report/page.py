"""The run report as one self-contained HTML page: inline CSS and SVG, no script, no fetch.

Every section is always present. One the run did not reach, or whose input does not exist yet
(no baseline, no load test), says so in words instead of being left blank.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import metrics
from core.config import EnvironmentConfig
from pipeline.summary import MetricRow, RunSummary
from report import charts
from report.inputs import FeatureStats, LoadTestRun
from store import release as rel

SECTIONS = {
    "data-gate": "Data gate",
    "statistics": "Feature statistics",
    "drift": "Drift",
    "evaluation": "Evaluation",
    "training": "Training",
    "blessing": "Blessing",
    "loadtest": "Load test",
    "releases": "Releases",
}

CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;padding:0 12px 40px;max-width:960px;
color:#1f2328}
h1{font-size:1.3em;margin:16px 0 4px}h2{font-size:1.1em;border-bottom:1px solid #d0d7de;
padding-bottom:4px;margin-top:28px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:6px 0}
td,th{border:1px solid #d0d7de;padding:3px 6px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
svg.chart{width:100%;height:auto;max-width:760px}.grid svg.chart{max-width:320px}
.grid{display:flex;flex-wrap:wrap;gap:8px}
.PASS,.BLESSED{color:#1a7f37;font-weight:600}.FAIL,.STOPPED,.NOT{color:#cf222e;font-weight:600}
.WARN{color:#9a6700;font-weight:600}.undefined{color:#cf222e;font-style:italic}
code{overflow-wrap:anywhere}.missing{color:#57606a;font-style:italic}.banner{padding:8px;border-radius:6px;
background:#ffebe9;border:1px solid #cf222e}
"""


@dataclass
class Inputs:
    """Everything the page shows; the summary is None when the run stopped before it had one."""

    cfg: EnvironmentConfig
    summary: RunSummary | None
    stopped: str = ""  # the gate's message when a gate stopped the run
    summary_note: str = ""  # why there is no summary
    statistics: dict[int, list[FeatureStats]] = field(default_factory=dict)
    history: dict[str, list[float]] | None = None
    loadtest: LoadTestRun | None = None
    loadtest_note: str = ""
    releases: dict[str, rel.Record | None] = field(default_factory=dict)
    # Where drawn histograms are kept between runs (report.build sets it); None: draw each.
    chart_cache: Path | None = None


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def missing(text: str) -> str:
    return f'<p class="missing">{e(text)}</p>'


def table(head: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    """Cells are escaped unless `raw` (cells already HTML)."""
    cell = (lambda c: c) if raw else e
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    header = "".join(f"<th>{e(h)}</th>" for h in head)
    return f'<div class="scroll"><table><tr>{header}</tr>{body}</table></div>'


def fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.4f}"


def metric_cell(row: MetricRow, name: str) -> str:
    """HTML: the value, or `undefined (<why>)` for a metric TFMA could not define: never 0."""
    if name in row.undefined:
        return f'<span class="undefined">undefined ({e(row.undefined[name])})</span>'
    return e(fmt(row.metrics.get(name)))


def render(inputs: Inputs) -> str:
    s = inputs.summary
    title = f"Run report: {inputs.cfg.pipeline_name} ({inputs.cfg.name})"
    head = [f"<h1>{e(title)}</h1>"]
    if s is not None:
        head.append(
            f"<p>Run <code>{e(s.current_run or '-')}</code>, commit "
            f"<code>{e(s.source_commit[:12] or '-')}</code>, data <code>{e(s.data_root)}</code>"
            + (f", training spans {e(_spans(s.spans))}" if s.spans else "")
            + "</p>"
        )
    if inputs.stopped:
        head.append(
            f'<p class="banner"><span class="STOPPED">STOPPED</span> at a gate: '
            f"{e(inputs.stopped)}</p>"
        )
    parts = {
        "data-gate": _data_gate(inputs),
        "statistics": _statistics(inputs),
        "drift": _drift(inputs),
        "evaluation": _evaluation(inputs),
        "training": _training(inputs),
        "blessing": _blessing(inputs),
        "loadtest": _loadtest(inputs),
        "releases": _releases(inputs),
    }
    body = "".join(
        f'<section id="{key}"><h2>{e(SECTIONS[key])}</h2>{content}</section>'
        for key, content in parts.items()
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
        + "".join(head)
        + body
        + "</body></html>\n"
    )


def _spans(numbers: Sequence[int]) -> str:
    return ", ".join(map(str, numbers)) or "-"


def _no_summary(inputs: Inputs, what: str) -> str:
    return missing(f"No {what}: {inputs.summary_note or 'the run left no summary'}.")


def _data_gate(inputs: Inputs) -> str:
    s = inputs.summary
    if s is None:
        return _no_summary(inputs, "data-gate verdict")
    out = [f'<p>Verdict: <span class="{e(s.data_validation)}">{e(s.data_validation)}</span></p>']
    if s.anomalies:
        out.append(
            table(
                ["feature", "split", "kind", "description"],
                (
                    [
                        a.get("feature", ""),
                        a.get("split", ""),
                        ", ".join(a.get("kinds", [])),
                        a.get("description", ""),
                    ]
                    for a in s.anomalies
                ),
            )
        )
    elif s.data_validation == "PASS":
        out.append("<p>No anomalies against the curated schema.</p>")
    return "".join(out)


def _stat_cell(f: FeatureStats | None) -> str:
    if f is None:
        return "absent"
    if f.kind == "numeric":
        figs = f.figures
        return (
            f"mean {figs['mean']:.3g}, sd {figs['std']:.3g}, min {figs['min']:.3g}, "
            f"median {figs['median']:.3g}, max {figs['max']:.3g}; missing {f.missing:.1%}"
        )
    top = ", ".join(f"{v} ({c:.0f})" for v, c in f.top[:3])
    return f"{f.unique} unique; top {top}; missing {f.missing:.1%}"


def _statistics(inputs: Inputs) -> str:
    stats = inputs.statistics
    if not stats:
        return missing("No statistics: StatisticsGen has not run in this work folder.")
    s = inputs.summary
    newest = s.eval_span if s is not None and s.eval_span in stats else max(stats)
    wanted: list[int] = []
    if s is not None and s.drift and s.drift.get("baseline_spans"):
        wanted = [int(x) for x in s.drift["baseline_spans"]]
        source = "the spans the released model was trained on"
    elif s is not None and s.spans:
        wanted = [x for x in s.spans if x != newest]
        source = "the older spans of the training window (no released baseline yet)"
    else:
        source = ""
    baseline = [x for x in wanted if x in stats]
    out = [f"<p>Newest span {newest}"]
    if baseline:
        out.append(f" beside span(s) {_spans(baseline)}, {e(source)}.</p>")
    else:
        out.append(
            ". No baseline span to compare with"
            + (
                f": span(s) {_spans(wanted)} have no statistics in this work folder"
                if wanted
                else " (no released model, and a window of one span)"
            )
            + ".</p>"
        )
    columns = [newest, *baseline]
    by_span = {span: {f.name: f for f in stats[span]} for span in columns}
    names = sorted({n for span in columns for n in by_span[span]})
    out.append(
        table(
            ["feature", *[f"span {c}" for c in columns]],
            ([n, *[_stat_cell(by_span[c].get(n)) for c in columns]] for n in names),
        )
    )
    grid = []
    cache = charts.ChartCache(inputs.chart_cache)
    for name in names:
        spans = {
            f"span {c}": (by_span[c][name].edges, by_span[c][name].counts)
            for c in columns
            if name in by_span[c] and by_span[c][name].edges
        }
        if spans:
            draw = functools.partial(charts.histogram_chart, name, spans)
            grid.append(cache.get("histogram", [name, spans], draw))
    cache.prune()
    if grid:
        out.append('<div class="grid">' + "".join(grid) + "</div>")
    return "".join(out)


def _drift(inputs: Inputs) -> str:
    s = inputs.summary
    if s is None:
        return _no_summary(inputs, "drift report")
    d = s.drift
    if not d:
        return missing("The drift gate did not run (the run stopped before it, or it is off).")
    out = [
        f'<p>Verdict: <span class="{e(d["verdict"])}">{e(d["verdict"])}</span>: span '
        f"{e(d['span'])} against span(s) {e(_spans(d.get('baseline_spans') or []))}, mode "
        f"{e(d['mode'])}, {e(d['examples'])} examples.</p>"
    ]
    if d.get("note"):
        out.append(f"<p>{e(d['note'])}</p>")
    measures = d.get("measures") or []
    if measures:
        out.append(
            table(
                ["feature", "measure", "value", "threshold", ""],
                (
                    [
                        e(m["feature"]),
                        e(m["measure"]),
                        f"{m['value']:.4f}",
                        e(m["threshold"]),
                        '<span class="FAIL">DRIFTED</span>'
                        if m["value"] > m["threshold"]
                        else "ok",
                    ]
                    for m in measures
                ),
                raw=True,
            )
        )
    return "".join(out)


def _evaluation(inputs: Inputs) -> str:
    s = inputs.summary
    if s is None:
        return _no_summary(inputs, "evaluation")
    if s.overall is None:
        return missing("Not evaluated: the run stopped before the Evaluator.")
    out = []
    if not s.has_baseline:
        why = s.baseline_note or "no released model to compare against"
        out.append(missing(f"No baseline ({why}): only the value threshold applied."))
    elif s.baseline_release:
        out.append(f"<p>Baseline: {e(s.baseline_release)}</p>")
    names = sorted(n for n in s.overall.metrics if n != "example_count")
    out.append(
        table(
            ["metric", "candidate", "baseline", "change"],
            (
                [
                    e(n + (" (gated)" if n == s.gated_metric else "")),
                    metric_cell(s.overall, n),
                    e(fmt(s.overall.baseline.get(n))),
                    e(_change(s.overall, n)),
                ]
                for n in names
            ),
            raw=True,
        )
    )
    metric = s.gated_metric
    if s.slices:
        out.append(f"<h3>{e(metric)} by slice</h3>")
        out.append(
            '<figure id="slice-chart">'
            + charts.slice_chart(
                metric,
                [r.slice for r in s.slices],
                [r.metrics.get(metric) for r in s.slices],
                [r.baseline.get(metric) for r in s.slices],
                {r.slice: r.undefined[metric] for r in s.slices if metric in r.undefined},
                bound=inputs.cfg.evaluation.bound,
                ceiling=metrics.lower_is_better(inputs.cfg.evaluation.metric),
            )
            + "</figure>"
        )
        out.append(
            table(
                ["slice", metric, "baseline", "examples"],
                (
                    [
                        e(r.slice),
                        metric_cell(r, metric),
                        e(fmt(r.baseline.get(metric))),
                        e(int(r.metrics.get("example_count") or 0)),
                    ]
                    for r in s.slices
                ),
                raw=True,
            )
        )
    else:
        out.append(missing("No slices: evaluation.slices names no feature."))
    for note in s.skipped_thresholds:
        out.append(
            f"<p>Threshold skipped: {e(note['metric'])} on {e(note['slice'])} is "
            f'<span class="undefined">undefined ({e(note["reason"])})</span>, so its threshold '
            f"was not checked.</p>"
        )
    return "".join(out)


def _change(row: MetricRow, name: str) -> str:
    value, base = row.metrics.get(name), row.baseline.get(name)
    if value is None or base is None or name in row.undefined:
        return "-"
    return f"{value - base:+.4f}"


def _training(inputs: Inputs) -> str:
    h = inputs.history
    if not h:
        return missing("No training history: the run stopped before the Trainer, or it left none.")
    losses = {k: v for k, v in h.items() if k.endswith("loss")}
    chart = charts.line_chart(
        "loss by epoch",
        {
            ("validation" if k.startswith("val_") else "training") + f" {k}": v
            for k, v in losses.items()
        },
        xlabel="epoch",
        ylabel="loss",
    )
    last = {k: v[-1] for k, v in h.items() if v}
    return f'<figure id="loss-chart">{chart}</figure>' + table(
        ["measure", "last epoch"], ([k, fmt(v)] for k, v in sorted(last.items()))
    )


def _blessing(inputs: Inputs) -> str:
    s = inputs.summary
    if s is None:
        return _no_summary(inputs, "blessing")
    if s.blessed is None:
        return missing("Not decided: the run stopped before the Evaluator.")
    out = [
        '<p>Decision: <span class="BLESSED">BLESSED</span></p>'
        if s.blessed
        else '<p>Decision: <span class="NOT">NOT BLESSED</span>, because:</p>'
    ]
    if s.blessing_failures:
        out.append("<ul>" + "".join(f"<li>{e(r)}</li>" for r in s.blessing_failures) + "</ul>")
    if s.blessed:
        out.append(_cleared(inputs.cfg, s))
    if s.pushed_version:
        out.append(
            f"<p>Pushed version {e(s.pushed_version)} (<code>{e(s.model_digest or '')}</code>)"
            + ("" if s.new_version else ": nothing new, the same model was pushed before")
            + ".</p>"
        )
    return "".join(out)


def _cleared(cfg: EnvironmentConfig, s: RunSummary) -> str:
    """What a blessed model cleared: a floor (<= its value), or a ceiling (>= it) for rmse."""
    ev = cfg.evaluation
    if metrics.lower_is_better(ev.metric):
        return (
            f"<p>{e(s.gated_metric)} stayed at or under the ceiling {ev.bound}"
            + (f" and worsened by at most {ev.max_regression}" if s.has_baseline else "")
            + ".</p>"
        )
    return (
        f"<p>{e(s.gated_metric)} cleared the floor {ev.bound} "
        + (f"and regressed by at most {ev.max_regression}" if s.has_baseline else "")
        + ".</p>"
    )


def _loadtest(inputs: Inputs) -> str:
    run = inputs.loadtest
    if run is None:
        return missing(inputs.loadtest_note or "No load test has run for this model yet.")
    r = run.summary
    verdict = "PASS" if r.get("passed") else "FAIL"
    out = [
        f'<p>Verdict: <span class="{verdict}">{verdict}</span>: {e(r.get("users"))} users, '
        f"{e(r.get('requests'))} requests, {e(r.get('failures'))} failed, "
        f"{float(r.get('rps') or 0):.1f} req/s, at {e(r.get('finished_at'))}.</p>"
    ]
    slo = inputs.cfg.loadtest.slo
    if run.seconds:
        out.append(
            charts.line_chart(
                "throughput",
                {"requests/s": run.rps},
                x=run.seconds,
                xlabel="seconds",
                ylabel="req/s",
                limits={f"SLO min {slo.min_rps:g} req/s": slo.min_rps},
            )
        )
        out.append(
            charts.line_chart(
                "latency percentiles",
                run.percentiles,
                x=run.seconds,
                xlabel="seconds",
                ylabel="ms",
                limits={
                    f"SLO p95 {slo.p95_ms:g} ms": slo.p95_ms,
                    f"SLO p99 {slo.p99_ms:g} ms": slo.p99_ms,
                },
            )
        )
    else:
        out.append(missing("locust wrote no stats history, so there is no chart over time."))
    checks = r.get("checks") or []
    out.append(
        table(
            ["SLO", "measured", "limit", ""],
            (
                [
                    c["name"],
                    f"{c['measured']:.4g}{c['unit']}",
                    f"{c['limit']:g}{c['unit']}",
                    "ok" if c.get("ok") else "BREACHED",
                ]
                for c in checks
            ),
        )
    )
    return "".join(out)


def _releases(inputs: Inputs) -> str:
    if not inputs.releases:
        return missing("No environments found.")
    return "".join(
        f"<h3>{e(env)}</h3>" + release_table(record) for env, record in inputs.releases.items()
    )


def release_table(record: rel.Record | None) -> str:
    if record is None:
        return missing("No release yet.")
    rows = []
    for i, r in enumerate([record.current, *record.history]):
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(r.metrics.items()))
        rows.append(
            [
                "current" if i == 0 else "earlier",
                str(r.version),
                r.digest[7:19],
                r.promoted_at,
                r.promoted_from,
                metrics or "-",
                r.loadtest.verdict,
                r.pipeline_run or "-",
            ]
        )
    return table(
        ["", "version", "digest", "promoted", "from", "metrics", "load test", "pipeline run"], rows
    )
