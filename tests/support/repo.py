"""The repository as tests see it: the bundled data, writable copies of environments/, overlay
edits as a person makes them, and strict JSON reading."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import tomllib
import yaml

import core  # noqa: F401
from core.paths import ENVIRONMENTS_DIR, REPO_ROOT
from tests.support import project

REPO = REPO_ROOT


# The project's data, as its configuration names it (data.root): the taxi sample's two spans
# until `mlops init` lays out another dataset. Tests of the sample itself read tests/fixtures/taxi.
BUNDLED_SPANS = list(project.SPANS)
# Every span in one CSV (span 1 first): on the taxi sample, all 15,002 trips.
FULL_DATA = project.all_rows_csv()


def copy_environments(root: Path) -> Path:
    """A writable copy of environments/ (base and every overlay, no releases) under `root`."""
    target = root / "environments"
    shutil.copytree(
        ENVIRONMENTS_DIR,
        target,
        ignore=shutil.ignore_patterns("manifests", "argocd", "release.yaml"),
    )
    return target


def update_overlay(environments: Path, env: str, updates: dict) -> None:
    """Deep-merge `updates` into environments/<env>/config.yaml, as a person would edit it."""
    path = environments / env / "config.yaml"
    data = yaml.safe_load(path.read_text()) or {}

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(data, updates)
    path.write_text(yaml.safe_dump(data))


def strict_json(path: Path):
    """Parse a file as strict JSON: bare NaN/Infinity (Python's default output) are errors."""
    import json

    def refuse(constant: str):
        raise ValueError(f"{path}: {constant} is not JSON")

    return json.loads(Path(path).read_text(), parse_constant=refuse)


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


# The packages the template installs, read from pyproject.toml (one list to keep), for tests
# that run a copy of the code.
PACKAGES = tuple(
    pattern.removesuffix("*")
    for pattern in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
)
