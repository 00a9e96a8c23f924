"""`mlops config`: validate every environment overlay; print one merged config as YAML."""

from __future__ import annotations

import argparse
import dataclasses
import sys

import yaml

from core import config
from core.errors import ConfigError
from mlops.arguments import Subparsers


def add_parser(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "config",
        help="validate every environment overlay and print one",
        description="Load and validate all environments; with --env, also "
        "print the merged configuration of that one.",
    )
    parser.add_argument("--env", metavar="ENV", help="print this environment's merged config")


def run(args: argparse.Namespace) -> int:
    names = config.available_environments(args.environments)
    if not names:
        raise ConfigError(f"no environments found in {args.environments}")
    loaded = {name: config.load(name, args.environments) for name in names}
    for name, cfg in loaded.items():  # stderr: stdout holds only the YAML, for tools to parse
        print(f"{name}: ok ({' + '.join(cfg.sources)})", file=sys.stderr)
    if args.env:
        cfg = loaded.get(args.env) or config.load(args.env, args.environments)
        print(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    return 0
