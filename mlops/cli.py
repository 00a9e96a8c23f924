"""`python -m mlops.cli`: kept as the module workflows, tests and docs call; the parser and the
error-to-exit-code mapping live in `mlops.main`, the commands in `mlops.commands`."""

from __future__ import annotations

import sys

from mlops.commands.ct import NO_RETRAIN
from mlops.main import EXIT_CODES, build_parser, main

__all__ = ["EXIT_CODES", "NO_RETRAIN", "build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
