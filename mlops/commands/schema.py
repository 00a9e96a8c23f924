"""`mlops schema draft`: a schema inferred from the newest span, for review, never installed."""

from __future__ import annotations

import argparse
from pathlib import Path

from core import config
from core.schema import SCHEMA_FILE
from core.uris import display
from mlops.arguments import Subparsers, add_env
from pipeline.schema_draft import draft_schema


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "schema",
        help="schema tools",
        description="Tools around the curated schema (models/schema/schema.pbtxt).",
    )
    actions = parser.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    draft = actions.add_parser(
        "draft",
        help="infer a draft schema from the newest span, for "
        "review against models/schema/schema.pbtxt",
        description="Infer a schema from the newest span with TFDV "
        "and write it for review; the curated schema is "
        "never replaced automatically.",
    )
    add_env(draft, "environment whose data to read")
    draft.add_argument("--data", metavar="DIR", help="read span folders from DIR")
    draft.add_argument(
        "--output",
        type=Path,
        default=Path("build/schema_draft.pbtxt"),
        help="where to write the draft (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.env, args.environments, data_root=args.data)
    path = draft_schema(cfg, args.output)
    curated = display(SCHEMA_FILE)
    print(
        f"Draft schema written to {path}. Compare it with {curated} "
        f"(e.g. `diff {path} {curated}`); copy over only what you "
        f"have reviewed."
    )
    return 0
