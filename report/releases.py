"""Releases for people: the headline figures of a promotion pull request, and every
environment's release history as one HTML page (`mlops status --html`)."""

from __future__ import annotations

from pathlib import Path

from core import config, metrics
from report.page import CSS, e, missing, release_table
from store import release as rel


def headline(environments_dir: Path, env: str) -> str:
    """Markdown: what `env`'s release is and how it scored, with a link to its run report."""
    record = rel.read(environments_dir, env)
    if record is None:
        return f"`{env}` has no release yet."
    r = record.current
    gated = config.load(env, environments_dir).evaluation.metric
    mark = " (gated, lower is better)" if metrics.lower_is_better(gated) else " (gated)"
    lines = [
        f"| version {r.version} | `{r.digest[:19]}` |",
        "|---|---|",
        *[
            f"| {name}{mark if name == gated else ''} | {value:.4f} |"
            for name, value in sorted(r.metrics.items())
            if name != "example_count"
        ],
        f"| training spans | {', '.join(map(str, r.spans)) or '-'} |",
        f"| load test in {r.promoted_from} | {_loadtest(environments_dir, r)} |",
        f"| trained by | {r.pipeline_run or '-'} at `{r.git_commit[:12] or '-'}` |",
    ]
    link = (
        f"Run report of the pipeline run that produced it: [report.html in the run's "
        f"`run-report` artifact]({r.report})"
        if r.report
        else "No run report is linked: the release was trained outside GitHub Actions."
    )
    return "\n".join(lines) + "\n\n" + link


def _loadtest(environments_dir: Path, r: rel.Release) -> str:
    """The source environment's load test of this release (the one the promotion rests on)."""
    known = r.promoted_from in config.promotion_order(environments_dir)
    source = rel.read(environments_dir, r.promoted_from) if known else None
    t = source.current.loadtest if source is not None else r.loadtest
    if t.verdict == "NONE" or t.p95_ms is None:
        return t.verdict
    return f"{t.verdict}: p95 {t.p95_ms:.0f} ms, p99 {t.p99_ms or 0:.0f} ms, {t.rps or 0:.1f} req/s"


def history_page(environments_dir: Path) -> str:
    """Every environment's current release and history, in release order, as one HTML page."""
    body = "".join(
        f"<h2>{e(env)}</h2>" + release_table(rel.read(environments_dir, env))
        for env in config.promotion_order(environments_dir)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Releases</title><style>{CSS}</style></head><body><h1>Releases</h1>"
        + (body or missing("No environments found."))
        + "</body></html>\n"
    )
