"""`mlops init`: a CSV and a label in, this project's decisions out (issue 19).

Today it reads and checks the data and prints every decision with its review list; it writes
nothing yet (the writers that lay the decisions out as files are the next step).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mlops.arguments import Subparsers
from scaffold import plan, report, spans, task


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "init",
        help="decide the task, column roles, spans, floors, slices and drift thresholds for "
        "a CSV and a label",
        description="Read FILE.csv (or a folder of span-N/ folders), check it, and print what "
        "the project would become: the task, each column's role, the spans, the gated metric's "
        "floor beside the trivial baseline, slices, drift thresholds, and a review list. "
        "Writes nothing yet.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="FILE.csv",
        help="a CSV file with a header, or a folder of span-N/ folders of CSV files",
    )
    parser.add_argument("--label", required=True, metavar="COLUMN", help="the column to predict")
    parser.add_argument(
        "--task",
        default="auto",
        choices=task.TASKS,
        help="auto (default) decides from the label's type and number of values, and says so",
    )
    parser.add_argument("--positive", metavar="VALUE", help="the positive class of a binary label")
    parser.add_argument("--name", help="model, pipeline and registry name (default: the file's)")
    parser.add_argument("--span-by", metavar="COLUMN", help="a date or timestamp column")
    parser.add_argument(
        "--period",
        default="month",
        choices=spans.PERIODS,
        help="one span per day, month (default) or year of --span-by",
    )


def run(args: argparse.Namespace) -> int:
    request = plan.Request(
        data=args.data,
        label=args.label,
        task=args.task,
        positive=args.positive,
        name=args.name,
        span_by=args.span_by,
        period=args.period,
    )
    decided = plan.decide(request)
    print(report.describe(decided))
    print(f"\nName: {decided.name}. Nothing written: the writers are not built yet.")
    return 0
