"""Where the repository keeps what every stage reads: environments, user code and its schema.

The folders are fixed by the template's layout, so every package finds them from here rather
than from its own location.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS_DIR = REPO_ROOT / "environments"
# The user code TFX packages (features, preprocessing, model, trainer) and its curated schema.
MODELS_DIR = REPO_ROOT / "models"
SCHEMA_DIR = MODELS_DIR / "schema"
# The trainer's per-epoch history, in its model run folder, which the run report draws. Named
# here, not in models/trainer.py, so that the report (rebuilt after every load test) does not
# import TensorFlow and TFX for a file name.
TRAINING_HISTORY_FILE = "training_history.json"
