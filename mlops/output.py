"""How commands name the files a release changed, as paths in the environments folder used."""

from __future__ import annotations

from pathlib import Path

from core.uris import display
from delivery.manifests import MANIFESTS_DIR
from store import release as rel


def changed_files(environments_dir: Path, env: str) -> str:
    """The release record and the manifests folder: what to commit together."""
    manifests = Path(environments_dir) / env / MANIFESTS_DIR
    return f"{display(rel.record_path(environments_dir, env))} and {display(manifests)}/"
