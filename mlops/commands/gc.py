"""`mlops gc`: prune the registry store of versions no release needs (dry run unless --apply)."""

from __future__ import annotations

import argparse

from delivery import retention
from delivery.promotion import Delivery
from mlops.arguments import Subparsers, add_env


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "gc",
        help="delete registry versions that no release record or tag names (dry run by default)",
        description="Keeps every version any environment's release record names (current or "
        "history), every version an environment tag points at, and the newest "
        "retention.keep_candidates other versions; lists the rest, and with --apply deletes "
        "them by digest through the registry API. Records and tags are read again right "
        "before each delete, so a release made meanwhile keeps its version.",
    )
    add_env(parser, "environment whose registry store to prune")
    parser.add_argument(
        "--apply", action="store_true", help="delete (default: only say what would go)"
    )


def run(args: argparse.Namespace) -> int:
    delivery = Delivery(args.environments)
    cfg = delivery.cfg(args.env)
    store = retention.registry_store(delivery.store(args.env), args.env, cfg.paths.model_store)
    plan = retention.plan(delivery.environments_dir, store, cfg.retention.keep_candidates)
    print(f"{store.name}: {len(plan.keep)} versions kept, {len(plan.delete)} unneeded.")
    for entry in plan.keep:
        print("  " + entry.line("keep"))
    for entry in plan.delete:
        print("  " + entry.line("delete" if args.apply else "unneeded"))
    if not args.apply:
        if plan.delete:
            print(f"Dry run: nothing deleted; `mlops gc --env {args.env} --apply` deletes these.")
        return 0
    outcome = retention.apply(delivery.environments_dir, plan)
    for entry in outcome.spared:
        print(f"  spared  version {entry.version} ({entry.digest[:19]}): {entry.reason}")
    print(
        f"Deleted {len(outcome.deleted)} versions from {store.name}"
        + (f"; spared {len(outcome.spared)} named since the listing." if outcome.spared else ".")
    )
    return 0
