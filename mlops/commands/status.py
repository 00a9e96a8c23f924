"""`mlops status`: every environment's release and what waits for promotion; changes nothing."""

from __future__ import annotations

import argparse

from core import step_summary
from delivery import status
from delivery.promotion import Delivery
from mlops.arguments import Subparsers


def add_parser(sub: Subparsers) -> None:
    sub.add_parser(
        "status",
        help="every environment's release, age, metrics, load test, and what is pending promotion",
        description="Show, per environment in release order (deploy.promote_from), "
        "the released model version, short digest, age, gated metric "
        "and load-test verdict from environments/<env>/release.yaml, "
        "then which promotions are pending and what they wait for. "
        "Changes nothing.",
    )


def run(args: argparse.Namespace) -> int:
    text = status.table(Delivery(args.environments))
    print(text)
    step_summary.append(f"### Releases\n\n```\n{text}\n```")
    return 0
