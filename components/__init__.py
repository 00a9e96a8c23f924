"""Model and component code the pipeline runs: features, Transform, model, Trainer, gates."""

import os
from pathlib import Path

import mlops  # noqa: F401 - sets TF_USE_LEGACY_KERAS and warning filters first

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

COMPONENTS_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = COMPONENTS_DIR / "schema"
