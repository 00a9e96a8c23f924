"""`mlops run` with the Trainer module swapped for the poisoned one; used by the NaN e2e test."""

from __future__ import annotations

import sys
from pathlib import Path

from mlops import cli
from pipeline import definition

if __name__ == "__main__":
    definition.TRAINER_MODULE = str(Path(__file__).with_name("poisoned_trainer.py"))
    sys.exit(cli.main(sys.argv[1:]))
