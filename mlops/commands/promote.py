"""`mlops promote`: a release moves pipeline -> dev -> staging -> prod, by delivery's rules."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import config
from delivery.promotion import AlreadyCurrent, Delivery
from mlops.arguments import Subparsers
from mlops.output import changed_files


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "promote",
        help="promote a release: pipeline -> dev -> staging -> prod",
        description="Write the target environment's release record and re-render its "
        "manifests. `--to dev` takes the newest model the pipeline pushed; "
        "`--from A --to B` copies A's artifact (same version and digest) after "
        "checking the promotion rules. Commit the changed files.",
    )
    parser.add_argument(
        "--from",
        dest="source",
        metavar="ENV",
        help="environment whose release to promote (omit for the pipeline)",
    )
    parser.add_argument(
        "--to",
        dest="target",
        required=True,
        metavar="ENV",
        help=f"environment to promote to (one of: {', '.join(config.available_environments())})",
    )
    parser.add_argument(
        "--output", metavar="DIR", help="the --output folder of `mlops run` (with --to dev)"
    )
    parser.add_argument(
        "--summary",
        type=Path,
        metavar="FILE",
        help="with --to dev: promote exactly the candidate this run summary "
        "(run_summary.json of `mlops run`) names, e.g. one CI uploaded",
    )
    parser.add_argument(
        "--defer-store",
        action="store_true",
        help="write the record and manifests only (for a promotion pull "
        "request); `mlops sync` moves the registry tag after the merge",
    )
    parser.add_argument(
        "--ok-if-current",
        action="store_true",
        help="exit 0 when the target already runs that release (re-runs)",
    )
    parser.add_argument(
        "--expect-version",
        type=int,
        metavar="N",
        help="refuse unless the release being promoted is version N (what a "
        "person approved in the prod workflow)",
    )


def run(args: argparse.Namespace) -> int:
    outcome = Delivery(args.environments, output_root=args.output).promote_to(
        args.target,
        args.source,
        expect_version=args.expect_version,
        summary_file=args.summary,
        defer_store=args.defer_store,
        ok_if_current=args.ok_if_current,
    )
    if isinstance(outcome, AlreadyCurrent):
        print(f"{outcome.env}: {outcome.reason}")
        return 0
    c = outcome.current
    print(
        f"Promoted {c.model_name} {c.short()} to {args.target} (from {c.promoted_from}).\n"
        f"Changed: {changed_files(args.environments, args.target)}; commit them together."
    )
    return 0
