"""Gather a run's evidence and write `<work_dir>/report.html`, for finished and stopped runs."""

from __future__ import annotations

import time
from pathlib import Path

from core import config
from core.config import EnvironmentConfig
from core.paths import ENVIRONMENTS_DIR
from pipeline.summary import RunSummary
from report import inputs
from report.page import Inputs, render

REPORT_FILE = "report.html"
CHART_CACHE = "report-charts"  # under the work folder: the last report's drawn histograms


def report_path(cfg: EnvironmentConfig) -> Path:
    return Path(cfg.work_dir) / REPORT_FILE


def gather(
    cfg: EnvironmentConfig,
    summary: RunSummary | None,
    *,
    stopped: str = "",
    summary_note: str = "",
    environments_dir: Path = ENVIRONMENTS_DIR,
) -> Inputs:
    run = summary.pipeline_run if summary is not None else ""
    loadtest, note = inputs.loadtest(cfg, summary.pushed_version if summary else None)
    return Inputs(
        cfg=cfg,
        summary=summary,
        stopped=stopped,
        summary_note=summary_note,
        statistics=inputs.statistics_by_span(cfg),
        history=inputs.training_history(cfg, run),
        loadtest=loadtest,
        loadtest_note=note,
        releases=inputs.release_history(environments_dir, config.promotion_order(environments_dir)),
        chart_cache=Path(cfg.work_dir) / CHART_CACHE,
    )


def write(
    cfg: EnvironmentConfig,
    summary: RunSummary | None,
    *,
    stopped: str = "",
    summary_note: str = "",
    environments_dir: Path = ENVIRONMENTS_DIR,
) -> tuple[Path, float, Inputs]:
    """Write the report; return its path, the seconds it took (printed by `mlops run`) and
    what it showed (for the job summary's charts)."""
    started = time.monotonic()
    shown = gather(
        cfg, summary, stopped=stopped, summary_note=summary_note, environments_dir=environments_dir
    )
    out = report_path(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(shown))
    return out, time.monotonic() - started, shown


def load_summary(cfg: EnvironmentConfig) -> RunSummary | None:
    """The last finished run's summary (run_summary.json), or None before the first."""
    import json

    from pipeline.summary import SUMMARY_FILE, MetricRow

    path = Path(cfg.paths.pipeline_root).parent / SUMMARY_FILE
    if not path.exists():
        return None
    from dataclasses import fields

    known = {f.name for f in fields(RunSummary)}
    data = {k: v for k, v in json.loads(path.read_text()).items() if k in known}
    overall = data.get("overall")
    data["overall"] = MetricRow(**{"slice": "overall", **overall}) if overall else None
    data["slices"] = [MetricRow(**row) for row in data.get("slices") or []]
    return RunSummary(**data)


def record_served(cfg: EnvironmentConfig, versions: set[int] | None) -> None:
    """Note which model versions a load test measured, so the report shows it only for them."""
    import json

    folder = Path(cfg.work_dir) / inputs.LOADTEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    (folder / inputs.SERVED_FILE).write_text(json.dumps(sorted(versions or [])))


def refresh(cfg: EnvironmentConfig, environments_dir: Path = ENVIRONMENTS_DIR) -> Path | str:
    """Re-write the last finished run's report (after a load test), or say why it was not.

    Never raises for a summary it cannot read (one written by another version, or by hand): the
    report is evidence beside the load test, not part of its verdict.
    """
    try:
        summary = load_summary(cfg)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return f"run_summary.json could not be read for the report ({type(exc).__name__}: {exc})"
    if summary is None:
        return "no finished run here (run_summary.json), so no report to add the load test to"
    return write(cfg, summary, environments_dir=environments_dir)[0]
