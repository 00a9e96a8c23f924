"""`mlops status`: every environment's release and what waits for promotion; changes nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import config, step_summary
from core.errors import ConfigError
from core.uris import display
from delivery import status
from delivery.promotion import Delivery
from mlops.arguments import Subparsers


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "status",
        help="every environment's release, age, metrics, load test, and what is pending promotion",
        description="Show, per environment in release order (deploy.promote_from), "
        "the released model version, short digest, age, gated metric "
        "and load-test verdict from environments/<env>/release.yaml, "
        "then which promotions are pending and what they wait for. "
        "Changes nothing.",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="also write every environment's release history to FILE as one HTML page",
    )
    parser.add_argument(
        "--figures",
        metavar="ENV",
        help="print only ENV's release headline figures and run-report link (Markdown, for the "
        "promotion pull request)",
    )


def run(args: argparse.Namespace) -> int:
    # Imported only for --figures and --html: the report's page module reads the trainer's
    # modules (TensorFlow, TFX), seconds of imports that plain `mlops status` need not pay.
    if args.figures or args.html:
        from report import releases
    if args.figures:
        if args.figures not in config.promotion_order(args.environments):
            raise ConfigError(f"--figures: no environment {args.figures!r} in {args.environments}")
        print(releases.headline(args.environments, args.figures))
        return 0
    if args.html:
        out = Path(args.html)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(releases.history_page(args.environments))
        print(f"Release history: {display(out)}")
    text = status.table(Delivery(args.environments))
    print(text)
    step_summary.append(f"### Releases\n\n```\n{text}\n```")
    return 0
