"""The Evaluator's baseline: the model released in the environment the pipeline feeds.

Why not ML Metadata's "latest blessed model": on a CI runner ML Metadata is a SQLite file that
starts empty every job, so the baseline would always be missing and `max_regression` would
never apply. The release record in Git says what runs now; its artifact is pulled by digest
from the model store (both digests checked) and imported into the pipeline, so the regression
gate compares against what users are actually served, on any machine.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from store.model_store import Artifact, store_of

SERVING_DIR = "Format-Serving"  # where TFX's Evaluator looks inside a Model artifact


@dataclass(frozen=True)
class ReleasedBaseline:
    environment: str
    version: int
    digest: str
    ref: str
    model_uri: str  # a Model-artifact folder: <model_uri>/Format-Serving/saved_model.pb

    def describe(self) -> str:
        return f"{self.environment}'s release, version {self.version} ({self.digest[7:19]})"


def import_release(environment: str, artifact: Artifact, work_dir: Path) -> ReleasedBaseline:
    """Pull the released model and lay it out as a TFX Model artifact; reused while unchanged."""
    pulled = store_of(artifact.ref).materialize(artifact, work_dir / "models")
    model_uri = work_dir / "baseline" / artifact.tree_digest[7:]
    serving = model_uri / SERVING_DIR
    if not serving.exists():
        partial = model_uri / f".{SERVING_DIR}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(pulled, partial)
        partial.rename(serving)
    return ReleasedBaseline(
        environment, artifact.version, artifact.tree_digest, artifact.ref, str(model_uri)
    )
