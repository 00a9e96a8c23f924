"""Options every command shares, and the checks that run before any command does.

`--root` and `--environments` must name one repository; `--env`, `--from` and `--to` must name
one of its environments. Both are checked once here, so each command starts from valid names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TypeAlias

from core import config
from core.errors import ConfigError
from core.uris import display

# What `add_subparsers` returns; each command module adds its parser to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def add_env(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--env",
        required=True,
        metavar="ENV",
        help=f"{help_text} (one of: {', '.join(config.available_environments())})",
    )


def one_line(path: Path) -> str:
    """A path as shown, quoted when it holds characters that would break a one-line message."""
    text = display(path)
    return text if text.isprintable() else repr(text)


def resolve_root(args: argparse.Namespace) -> None:
    """One repository root for every path: --root, or the folder holding --environments.

    Config paths, build/ and infra/ resolve against the folder that holds environments/, so the
    two options must agree; a root other than this checkout's is stated once on stderr.
    """
    if args.environments is None:
        args.environments = (
            args.root / "environments" if args.root is not None else config.ENVIRONMENTS_DIR
        )
    holder = args.environments.resolve().parent
    if args.root is not None and args.root.resolve() != holder:
        raise ConfigError(
            f"--environments {one_line(args.environments)}: must be the "
            f"environments/ folder of --root {one_line(args.root)} "
            f"({one_line(args.root / 'environments')}): config paths, build/ and "
            f"infra/ resolve against the folder that holds environments/"
        )
    if not args.environments.is_dir():
        raise ConfigError(f"--environments {one_line(args.environments)}: no such folder")
    if holder != config.REPO_ROOT:
        print(
            f"mlops: repository root {one_line(holder)} (holds {one_line(args.environments)}): "
            f"data.root, paths.*, build/ and infra/ resolve there",
            file=sys.stderr,
        )


def check_environment_args(args: argparse.Namespace) -> None:
    """Every environment a command names (--env, --from, --to) must be one of the folder's."""
    known = config.available_environments(args.environments)
    for flag, dest in (("--env", "env"), ("--from", "source"), ("--to", "target")):
        name = getattr(args, dest, None)
        if name is not None and name not in known:
            raise ConfigError(
                f"{flag}: unknown environment {name!r} (known: "
                f"{', '.join(known) or 'none'}, in {one_line(args.environments)})"
            )
