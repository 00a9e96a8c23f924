"""A model store as TF Serving sees it, and the digest that identifies an artifact in it.

One place for what the Pusher, the server, the promotion commands and the tests all rely on:
- versions are integer-named folders holding a SavedModel (TF Serving ignores anything else);
- a version appears in one rename of a hidden sibling, so a polling server never loads half;
- the digest is sha256 over every file's relative path and bytes, in a stable order, so two
  trees share it exactly when they hold the same files with the same bytes. Local paths are
  read directly; other URIs (gs://...) through tf.io.gfile.
Nothing here imports TFX, so the CLI's delivery commands stay fast.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

_CHUNK = 1 << 20


def _local_files(root: str) -> Iterator[tuple[tuple[str, ...], str]]:
    base = Path(root)
    for path in base.rglob("*"):
        if path.is_file():
            yield path.relative_to(base).parts, str(path)


def _gfile_files(root: str) -> Iterator[tuple[tuple[str, ...], str]]:
    import tensorflow as tf

    root = root.rstrip("/")
    for dirpath, _, names in tf.io.gfile.walk(root):
        for name in names:
            full = f"{dirpath.rstrip('/')}/{name}"
            yield tuple(full[len(root) + 1:].split("/")), full


def _open(path: str, remote: bool):
    if not remote:
        return open(path, "rb")
    import tensorflow as tf

    return tf.io.gfile.GFile(path, "rb")


def model_digest(model_dir: str | Path) -> str:
    root = str(model_dir)
    remote = "://" in root
    h = hashlib.sha256()
    for parts, path in sorted(_gfile_files(root) if remote else _local_files(root)):
        h.update("/".join(parts).encode() + b"\0")
        with _open(path, remote) as f:
            for chunk in iter(lambda f=f: f.read(_CHUNK), b""):
                h.update(chunk)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def has_saved_model(model_dir: str) -> bool:
    if "://" not in model_dir:
        return Path(model_dir, "saved_model.pb").exists()
    import tensorflow as tf

    return tf.io.gfile.exists(f"{model_dir.rstrip('/')}/saved_model.pb")


def versions(store_dir: str | Path) -> list[int]:
    """Version numbers in a local model store, the way TF Serving sees them."""
    root = Path(store_dir)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir()
                  if p.name.isdigit() and (p / "saved_model.pb").exists())


def publish_atomically(model_dir: str | Path, store_dir: str | Path, version: int) -> Path:
    """Copy into a hidden sibling, then rename it to the version number."""
    root = Path(store_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{version}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_dir, staging)
    final = root / str(version)
    os.rename(staging, final)  # atomic on one filesystem; fails if `final` exists
    return final


def materialize(uri: str, digest: str, cache_dir: str | Path) -> Path:
    """A local SavedModel folder holding exactly the artifact `uri` names, its digest verified.

    Callers that need to read a released model (serving, the baseline, the decay check) go
    through here, whatever kind of store holds it; `cache_dir` is where remote kinds pull to.
    """
    del cache_dir  # only local paths so far; registries and buckets pull into it
    found = model_digest(uri)
    if found != digest:
        raise ValueError(f"{uri} has digest {found}, expected {digest}")
    return Path(uri)
