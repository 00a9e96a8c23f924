"""Model and component code the pipeline runs: features, Transform, model, Trainer, gates."""

from pathlib import Path

import mlops  # noqa: F401 - sets TF_USE_LEGACY_KERAS before anything imports TensorFlow

COMPONENTS_DIR = Path(__file__).resolve().parent
SCHEMA_DIR = COMPONENTS_DIR / "schema"
