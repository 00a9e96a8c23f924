"""`mlops ct check`: whether an environment should retrain now, one line per reason."""

from __future__ import annotations

import argparse
import os
import time

from core import config, step_summary
from core.errors import ExitStatus
from mlops.arguments import Subparsers, add_env
from pipeline.continuous import check

NO_RETRAIN = 4  # `mlops ct check`: nothing to do (0 means: retrain)
NO_RETRAIN_STATUS = ExitStatus(
    NO_RETRAIN,
    "no retrain needed; returned only by `mlops ct check`, whose 0 means retrain",
    "`make ct-check` treats it as success",
)


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "ct",
        help="continuous training: decide whether to retrain",
        description="Continuous training. `check` prints one line per reason to "
        "retrain (new span, drift, decay, release age, serving drift) and exits 0 "
        "when a retrain is needed, 4 when not.",
    )
    actions = parser.add_subparsers(dest="ct_command", required=True, metavar="SUBCOMMAND")
    ct_check = actions.add_parser(
        "check",
        help="whether ENV should retrain now, and why",
        description="One line per reason to retrain ENV's released model: a new span, drift "
        "above models/schema/drift.yaml, decay below "
        "continuous_training.decay_floor (above decay_ceiling for rmse) on the newest "
        "labelled span, or a release "
        "older than continuous_training.max_release_age_days. Exit 0: retrain; "
        "exit 4: no retrain needed. Appends retrain=/reasons= to $GITHUB_OUTPUT.",
    )
    add_env(ct_check, "environment whose release to check")
    ct_check.add_argument(
        "--data",
        metavar="DIR",
        help="read span folders from DIR instead of the environment's data.root",
    )
    ct_check.add_argument(
        "--output", metavar="DIR", help="local working folder (as for `mlops run --output`)"
    )


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    cfg = config.load(args.env, args.environments, data_root=args.data, output_root=args.output)
    result = check(cfg, args.environments)
    verdict = "retrain" if result.retrain else "no retrain"
    print(f"{cfg.name}: {verdict} ({time.monotonic() - started:.1f} s)")
    for reason in result.reasons:
        print(f"  - {reason}")
    for note in result.notes:
        print(f"  note: {note}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        reasons = "; ".join(result.reasons).replace("\n", " ")
        with open(output, "a") as f:
            f.write(f"retrain={'true' if result.retrain else 'false'}\nreasons={reasons}\n")
    step_summary.append(result.markdown(cfg.name))
    return 0 if result.retrain else NO_RETRAIN
