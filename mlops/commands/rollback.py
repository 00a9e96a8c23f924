"""`mlops rollback`: an environment returns to its previous release, exactly."""

from __future__ import annotations

import argparse

from delivery.promotion import Delivery
from mlops.arguments import Subparsers, add_env
from mlops.output import changed_files


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "rollback",
        help="return an environment to its previous release",
        description="Replace the release record with the previous "
        "release from its history, exactly, after checking "
        "that artifact's digest; re-render the manifests. After an aborted canary or a "
        "failed shadow (Argo Rollouts never writes to Git), this puts the record back on "
        "the release that is still serving.",
    )
    add_env(parser, "environment to roll back")
    parser.add_argument(
        "--defer-store",
        action="store_true",
        help="write the record and manifests only (for a pull request that needs approval); "
        "`mlops sync` moves the registry tag after the merge",
    )


def run(args: argparse.Namespace) -> int:
    record = Delivery(args.environments).rollback(args.env, defer_store=args.defer_store)
    print(
        f"Rolled {args.env} back to {record.current.short()} (released "
        f"{record.current.promoted_at}).\nChanged: {changed_files(args.environments, args.env)}; "
        f"commit them together."
    )
    return 0
