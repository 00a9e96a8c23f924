"""Run the pipeline locally, or compile it for Vertex AI Pipelines / Kubeflow Pipelines v2.

Both start from the same `create_pipeline(cfg)`; the environment's `orchestration.runner` decides
which applies, so dev, staging and prod differ only in their overlays.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from components.baseline import ReleasedBaseline
from core import step_summary
from core.config import EnvironmentConfig, source_of
from core.errors import ConfigError, GateError, MlopsError
from core.paths import ENVIRONMENTS_DIR
from core.verdicts import Verdict
from pipeline import span_folders
from pipeline.progress import RunProgress, capture_logs
from pipeline.reports import drift_report_dir, report_dir
from pipeline.summary import RunSummary, summarize


class PipelineFailed(MlopsError):
    """A component failed for a reason that is not one of our gates."""


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and the exceptions it was raised from or while handling, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _find_gate_error(exc: BaseException) -> GateError | None:
    """Our gates raise GateError inside a component; TFX may wrap it on the way out."""
    return next((e for e in _chain(exc) if isinstance(e, GateError)), None)


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C, even when a library wrapped it: Beam re-raises a KeyboardInterrupt inside a
    transform as `RuntimeError("KeyboardInterrupt [while running '<step>']")`."""
    return any(
        isinstance(e, KeyboardInterrupt)
        or (isinstance(e, RuntimeError) and str(e).startswith("KeyboardInterrupt"))
        for e in _chain(exc)
    )


def log_file(cfg: EnvironmentConfig) -> Path:
    return Path(cfg.paths.pipeline_root).parent / "run.log"


def _keep_report(cfg: EnvironmentConfig, anomalies: list) -> None:
    from components.data_gate import write_report

    write_report(anomalies, str(report_dir(cfg)))


def _partial_summary(cfg: EnvironmentConfig, nodes: dict) -> RunSummary | str:
    """The summary of a stopped run, as far as it got (or why there is none); not written over
    run_summary.json, which keeps describing the last finished run (whose pushed model `mlops
    promote` may take)."""
    try:
        return summarize(cfg, nodes, write=False)
    except Exception as exc:  # said, but the gate's own message is what the user needs
        return f"Run summary unavailable ({type(exc).__name__}: {exc}); see {log_file(cfg)}"


def _stop(
    cfg: EnvironmentConfig, gate: GateError, summary: RunSummary | str, out: TextIO
) -> NoReturn:
    """A gate stopped the run: keep its report, print the run summary as far as it got (with
    the gate's table, as a finished run prints it), and raise the gate's error."""
    anomalies = getattr(gate, "anomalies", None)
    if anomalies is not None:
        from dataclasses import asdict

        _keep_report(cfg, anomalies)
        if isinstance(summary, RunSummary):
            summary.data_validation = "FAIL"
            summary.anomalies = [asdict(a) for a in anomalies]
        gate.args = (f"{gate}\nReport: {report_dir(cfg)}",)
    verdict = getattr(gate, "verdict", None)
    if verdict is not None:
        from ct.drift import write_report

        write_report(verdict, drift_report_dir(cfg))
        if isinstance(summary, RunSummary):
            summary.drift = json.loads(verdict.to_json())
        gate.args = (f"{gate}\nReport: {drift_report_dir(cfg)}",)
    if isinstance(summary, RunSummary):
        out.write(summary.render() + "\n")
        step_summary.append(summary.markdown())
    else:
        out.write(f"\n{summary}\n")
    out.flush()
    gate.run_summary = summary  # type: ignore[attr-defined]  # for the run report (mlops run)
    raise gate from None


def _ingest_window(cfg: EnvironmentConfig, out: TextIO, progress: RunProgress) -> None:
    """Ingest the window's older spans that this pipeline's ML Metadata may not hold yet.

    CsvExampleGen takes one span per run; each older span gets its own one-node run, so a fresh
    machine trains on the same window as a long-lived one. A span ML Metadata already holds with
    its current content (ingested as the newest span of an earlier run) is reused, not read
    again. Its progress line names the span: `CsvExampleGen (span 1)`.
    """
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from ct import spans
    from pipeline import ingested
    from pipeline.definition import ingest_pipeline

    older = spans.window(cfg)[:-1]
    if older:
        out.write(
            f"Training window: spans {spans.describe(spans.window(cfg))} "
            f"(data.window_spans={cfg.data.window_spans}); ingesting span(s) "
            f"{spans.describe(older)}\n"
        )
    for span in older:
        if ingested.is_ingested(cfg, span):
            progress.reused(f"{ingested.EXAMPLE_GEN} (span {span})")
            continue
        progress.run_label = f"span {span}"
        try:
            LocalDagRunner().run(ingest_pipeline(cfg, span))
        finally:
            progress.run_label = ""


def run_local(
    cfg: EnvironmentConfig,
    out: TextIO | None = None,
    baseline: ReleasedBaseline | None = None,
    baseline_note: str = "",
    environments_dir: Path = ENVIRONMENTS_DIR,
) -> RunSummary:
    """Run with LocalDagRunner and SQLite ML Metadata; raise a readable error on failure.

    `baseline` is the environment's released model (None before the first release, with
    `baseline_note` saying why); the Evaluator's regression gate compares against it. The drift
    gate compares with the spans that release was trained on (from `environments_dir`).
    """
    if cfg.orchestration.runner != "local":
        raise ConfigError(
            f"environment {cfg.name!r} uses orchestration.runner={cfg.orchestration.runner!r}; "
            f"compile it with `mlops compile --env {cfg.name}` and submit the JSON to Vertex AI "
            f"Pipelines, or run a local environment such as dev"
        )
    if not Path(cfg.data.root).is_dir():
        raise ConfigError(
            f"data.root {cfg.data.root} is not a directory "
            f"(set by {source_of(cfg, 'data.root')} or --data)"
        )
    from ct import spans

    if not spans.available(cfg):  # else CsvExampleGen fails with a raw ValueError
        raise ConfigError(
            f"data.root {cfg.data.root} holds no span: nothing matches data.input_pattern "
            f"{cfg.data.input_pattern!r} (data.root set by {source_of(cfg, 'data.root')} or "
            f"--data); each span is a numbered folder of CSV files"
        )
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipeline.continuous import released_baseline
    from pipeline.definition import create_pipeline

    drift_baseline = released_baseline(cfg, environments_dir)
    Path(cfg.paths.metadata).parent.mkdir(parents=True, exist_ok=True)
    logs = log_file(cfg)
    warnings = span_folders.warnings(cfg)
    (out or sys.stdout).write(
        f"Running pipeline {cfg.pipeline_name} for {cfg.name} (full log: {logs})\n"
        + "".join(f"Warning: {warning}\n" for warning in warnings)
    )
    (out or sys.stdout).flush()
    stopped: GateError | None = None
    with capture_logs(logs, out) as progress:
        try:
            _ingest_window(cfg, out or sys.stdout, progress)
            LocalDagRunner().run(
                create_pipeline(
                    cfg,
                    baseline=baseline,
                    drift_spans=drift_baseline.spans,
                    drift_note=drift_baseline.note,
                )
            )
        except ConfigError:
            raise  # a config the pipeline cannot be built from (evaluation.metric vs TASK): exit 2
        except Exception as exc:
            if _interrupted(exc):
                raise KeyboardInterrupt from None
            failed = progress.current or "the pipeline"
            gate = _find_gate_error(exc)
            if gate is None:
                raise PipelineFailed(
                    f"{failed} failed: {type(exc).__name__}: {exc}\nSee the full log: {logs}"
                ) from exc
            stopped = gate
        if stopped is None:
            summary = summarize(cfg, progress.nodes)
        else:
            partial = _partial_summary(cfg, progress.nodes)
    if stopped is not None:  # printed once the terminal is back (inside, stdout is the log)
        if isinstance(partial, RunSummary):
            partial.warnings = warnings
        _stop(cfg, stopped, partial, out or sys.stdout)
    summary.warnings = warnings
    summary.baseline_release = baseline.describe() if baseline else ""
    summary.baseline_note = baseline_note
    summary.write(cfg)
    if summary.data_validation == Verdict.PASS:
        _keep_report(cfg, [])  # never leave an old failure report behind a passing run
    return summary


def require_blessed(summary: RunSummary) -> None:
    """A run whose model the Evaluator did not bless stopped at a gate, though every component
    succeeded: nothing was pushed, and the caller must not report success."""
    if summary.blessed is False:
        raise GateError(
            "model validation failed: the model was not blessed (reasons above); nothing was pushed"
        )


def compile_kubeflow(cfg: EnvironmentConfig, environments_dir: Path = ENVIRONMENTS_DIR) -> Path:
    """Write the Vertex AI / KFP v2 pipeline JSON, offline."""
    if cfg.orchestration.runner != "kubeflow_v2":
        raise ConfigError(
            f"environment {cfg.name!r} uses orchestration.runner="
            f"{cfg.orchestration.runner!r}; only kubeflow_v2 environments compile "
            f"(run this one with `mlops run --env {cfg.name}`)"
        )
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as kfp_v2

    from pipeline.definition import create_pipeline

    output = Path(cfg.orchestration.compiled_pipeline)
    output.parent.mkdir(parents=True, exist_ok=True)
    runner = kfp_v2.KubeflowV2DagRunner(
        config=kfp_v2.KubeflowV2DagRunnerConfig(default_image=cfg.orchestration.image),
        output_dir=str(output.parent),
        output_filename=output.name,
    )
    from pipeline.continuous import released_baseline

    drift_baseline = released_baseline(cfg, environments_dir, read_data=False)  # offline
    runner.run(
        create_pipeline(cfg, drift_spans=drift_baseline.spans, drift_note=drift_baseline.note),
        write_out=True,
    )
    json.loads(output.read_text())  # fail here, not in Vertex, if the file is not JSON
    return output
