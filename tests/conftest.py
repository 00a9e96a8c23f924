"""Shared fixtures. Importing `mlops` first sets TF_USE_LEGACY_KERAS before TensorFlow loads."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import mlops  # noqa: F401
from mlops import config

REPO = config.REPO_ROOT
FULL_DATA = REPO / "data" / "taxi" / "span-1" / "data.csv"


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    """A writable copy of environments/ (base and every overlay)."""
    target = tmp_path / "environments"
    shutil.copytree(config.ENVIRONMENTS_DIR, target,
                    ignore=shutil.ignore_patterns("manifests", "release.yaml"))
    return target


def write_sample(dest: Path, rows: int, every: int = 5) -> Path:
    """Every `every`-th row of the bundled data, as span 1 under `dest`."""
    with FULL_DATA.open() as f:
        reader = csv.reader(f)
        header = next(reader)
        kept = [row for i, row in enumerate(reader) if i % every == 0][:rows]
    path = dest / "span-1" / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(kept)
    return dest
