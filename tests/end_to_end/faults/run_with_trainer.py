"""`mlops run` with the Trainer's module swapped for a planted fault in this folder.

Usage: python run_with_trainer.py FAULT_MODULE.py run --env dev ... (the rest is `mlops`'s
command line). Everything but the Trainer's module file is the project's own pipeline.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops import cli
from pipeline import definition

if __name__ == "__main__":
    definition.TRAINER_MODULE = str(Path(__file__).with_name(sys.argv[1]))
    sys.exit(cli.main(sys.argv[2:]))
