"""`mlops run`: the whole pipeline for a local environment, judged against its release."""

from __future__ import annotations

import argparse

from core import config, step_summary
from core.config import EnvironmentConfig
from core.errors import GateError
from core.uris import repo_relative
from delivery.baseline import released_baseline
from mlops.arguments import Subparsers, add_env
from pipeline.runner import require_blessed, run_local
from pipeline.summary import RunSummary


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "run",
        help="run the pipeline locally (LocalDagRunner, SQLite MLMD)",
        description="Run the whole pipeline for a local environment: ingest, "
        "validate, transform, train, evaluate, push. Unchanged "
        "data, code and config reuse cached results.",
    )
    add_env(parser, "environment to run")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="read span folders from DIR instead of the environment's data.root",
    )
    parser.add_argument(
        "--output",
        metavar="DIR",
        help="write pipeline artifacts, ML Metadata and the model store under DIR",
    )


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, data_root=args.data, output_root=args.output)
    baseline, note = released_baseline(args.environments, cfg)
    try:
        summary = run_local(
            cfg, baseline=baseline, baseline_note=note, environments_dir=args.environments
        )
    except GateError as gate:  # a gate stopped the run: the report shows where and why
        partial = getattr(gate, "run_summary", None)
        _report(
            cfg,
            partial if isinstance(partial, RunSummary) else None,
            args,
            stopped=str(gate).split("\n", 1)[0],
            summary_note=partial if isinstance(partial, str) else "",
        )
        raise
    print(summary.render())
    step_summary.append(summary.markdown())
    _report(cfg, summary, args)
    require_blessed(summary)
    return 0


def _report(
    cfg: EnvironmentConfig,
    summary: RunSummary | None,
    args: argparse.Namespace,
    stopped: str = "",
    summary_note: str = "",
) -> None:
    """Write build/<env>/report.html and put its key charts in the job summary."""
    # Imported here: the report reads the trainer's modules (TensorFlow, TFX) and draws with
    # matplotlib, seconds of imports that every other `mlops` command would pay at start-up.
    from report import build, mermaid

    path, seconds, shown = build.write(
        cfg,
        summary,
        stopped=stopped,
        summary_note=summary_note,
        environments_dir=args.environments,
    )
    print(
        f"Report: {repo_relative(str(path))} ({path.stat().st_size // 1024} KiB, {seconds:.1f} s)"
    )
    step_summary.append(mermaid.charts(shown))
