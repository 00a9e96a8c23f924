"""`mlops run` with the Trainer's module swapped for a planted fault in this folder.

Usage: python run_with_trainer.py FAULT_MODULE.py run --env dev ... (the rest is `mlops`'s
command line). Everything but the Trainer's run_fn import path is the project's own pipeline.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlops import cli
from pipeline import definition

if __name__ == "__main__":
    # This folder is sys.path[0] when the script runs, so the fault imports by its file's stem.
    definition.TRAINER_FN = f"{Path(sys.argv[1]).stem}.run_fn"
    sys.exit(cli.main(sys.argv[2:]))
