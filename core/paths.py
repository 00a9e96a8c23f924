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
