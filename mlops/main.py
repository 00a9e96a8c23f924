"""`mlops`: the one entry point that CI workflows and people both call.

This module builds the parser from the command modules (`mlops.commands`), runs the chosen
command and turns its errors into one message and an exit status, never a traceback. The
statuses and what they mean are listed in `mlops.exit_status`, from the error classes' own
attributes; README.md's table is rendered from it.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from importlib import metadata
from pathlib import Path

from core import config
from core.errors import GateError, MlopsError
from mlops.arguments import check_environment_args, resolve_root
from mlops.commands import COMMANDS
from mlops.exit_status import INTERRUPTED, statuses

# Every status `main` returns, with its meaning; README.md's table is rendered from the same rows.
EXIT_CODES = {s.code: s.meaning for s in statuses()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        description="Run, compile and check the TFX pipeline of this repository, per environment "
        "(environments/<env>/config.yaml over environments/base/config.yaml).",
    )
    parser.add_argument("--version", action="version", version=_version_line())
    parser.add_argument(
        "--root",
        type=Path,
        metavar="DIR",
        help="repository root: relative paths in the configs (data.root, "
        "paths.*), build/ and infra/ resolve against it (default: the "
        "folder holding --environments, i.e. this checkout)",
    )
    parser.add_argument(
        "--environments",
        type=Path,
        metavar="DIR",
        help="folder holding base/ and one folder per environment; it must be "
        f"ROOT/environments (default: {config.ENVIRONMENTS_DIR})",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks for unexpected failures"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def _version_line() -> str:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return (
        f"mlops {version('tfx-gitops-template')} (tfx {version('tfx')}, tensorflow "
        f"{version('tensorflow')})"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        resolve_root(args)
        check_environment_args(args)
        return COMMANDS[args.command].run(args)
    except MlopsError as exc:
        label = "stopped" if isinstance(exc, GateError) else "error"
        print(f"\nmlops {args.command}: {label}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\nmlops {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED.code
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"\nmlops {args.command}: unexpected failure: {type(exc).__name__}: {exc}\n"
            f"(run again with `mlops --debug {args.command} ...` for the traceback)",
            file=sys.stderr,
        )
        return MlopsError.exit_code


if __name__ == "__main__":
    sys.exit(main())
