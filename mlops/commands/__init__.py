"""One module per `mlops` command, each with `add_parser(sub)` and `run(args) -> exit status`.

A command parses its options and composes stage functions; the rules it applies live in the
stage (`delivery/`, `serving/`, `pipeline/`). COMMANDS keeps the order `mlops --help` lists.
"""

from __future__ import annotations

import argparse
from typing import Protocol

from mlops.arguments import Subparsers
from mlops.commands import (
    analyze,
    compile,
    config,
    ct,
    gc,
    init,
    loadtest,
    monitor,
    predict,
    promote,
    render,
    rollback,
    run,
    sample,
    schema,
    serve,
    status,
    submit,
    sync,
)


class Command(Protocol):
    """What main.py needs of a command module."""

    def add_parser(self, sub: Subparsers) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


COMMANDS: dict[str, Command] = {
    "run": run,
    "compile": compile,
    "submit": submit,
    "schema": schema,
    "serve": serve,
    "predict": predict,
    "loadtest": loadtest,
    "analyze": analyze,
    "promote": promote,
    "rollback": rollback,
    "sync": sync,
    "gc": gc,
    "status": status,
    "render": render,
    "config": config,
    "ct": ct,
    "monitor": monitor,
    "sample": sample,
    "init": init,
}
