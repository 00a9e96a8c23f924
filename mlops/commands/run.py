"""`mlops run`: the whole pipeline for a local environment, judged against its release."""

from __future__ import annotations

import argparse

from core import config, step_summary
from delivery.baseline import released_baseline
from mlops.arguments import Subparsers, add_env
from pipeline.runner import require_blessed, run_local


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
    summary = run_local(
        cfg, baseline=baseline, baseline_note=note, environments_dir=args.environments
    )
    print(summary.render())
    step_summary.append(summary.markdown())
    require_blessed(summary)
    return 0
