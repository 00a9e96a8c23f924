"""`mlops sync`: after a promotion pull request merged, the store follows the release record."""

from __future__ import annotations

import argparse

from delivery.promotion import Delivery
from delivery.sync_check import check_synced
from mlops.arguments import Subparsers, add_env


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "sync",
        help="move the environment's registry tag to its merged release record",
        description="After a promotion pull request (`promote --defer-store`) merged: make the "
        "model store match the release record (tag the same digest, or copy it to "
        "the environment's registry). The tag may move only from the previous "
        "release; anything else is refused (tag-matches).",
    )
    add_env(parser, "environment whose store to sync")
    parser.add_argument(
        "--check",
        action="store_true",
        help="move nothing: verify that the store serves the record's artifact (tag and digests)",
    )


def run(args: argparse.Namespace) -> int:
    if args.check:
        checked = check_synced(Delivery(args.environments), args.env)
        if checked is None:
            print(f"{args.env} has no release: nothing to check.")
        else:
            print(f"{args.env}'s store serves {checked.current.short()}, as its record says.")
        return 0
    record = Delivery(args.environments).sync(args.env)
    if record is None:
        print(f"{args.env} has no release: nothing to sync.")
    else:
        print(
            f"{args.env}'s store serves {record.current.short()} as its release "
            f"({record.current.uri})."
        )
    return 0
