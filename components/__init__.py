"""Model and component code the pipeline runs: features, Transform, model, Trainer, gates."""

import os

import mlops  # noqa: F401 - sets TF_USE_LEGACY_KERAS and warning filters first
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

COMPONENTS_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = COMPONENTS_DIR / "schema"
