"""Where pushed models live, behind one interface: a folder, a bucket, or an OCI registry.

The Pusher, promotion, rollback, serving, the baseline import and the load test all go
through `open_store(uri)`. The kind comes from the URI alone, and the URI from the
environment's overlay (`paths.model_store`):
- a local path: the embedded default for `make demo` (versions are integer-named folders);
- `gs://...`, `s3://...`: object stores through tf.io.gfile;
- `oci://registry/namespace/...`: an OCI registry (GHCR by default), in `oci_store`.

Two digests identify a model. The *tree digest* is sha256 over every file's relative path
and bytes in a stable order: two SavedModel folders share it exactly when they hold the same
files with the same bytes, whatever store they sit in. An OCI artifact has a *manifest
digest* as well, which the registry addresses it by. Every read of a released model
(`materialize`) checks both before anything serves or promotes it.
Nothing here imports TFX, so the CLI's delivery commands stay fast.

This module holds what every kind shares (the interface, errors and digests);
`store.model_store` opens the kind a URI names, and `store.oci` is the registry kind.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from core.errors import GateError, MlopsError
from core.uris import is_remote, join_uri
from core.verdicts import Rule

_CHUNK = 1 << 20
OCI_SCHEME = "oci://"


class StoreError(MlopsError):
    """Base for what a store refuses; `rule` names the promotion rule it stands for."""

    rule = Rule.STORE


class ArtifactMissing(StoreError, GateError):
    """The version, tag or digest a record names does not exist in the store."""

    rule = Rule.ARTIFACT_EXISTS


class DigestMismatch(StoreError, GateError):
    """What the store holds is not what the record says (tampering or a broken copy)."""

    rule = Rule.DIGEST_MATCHES


class TagConflict(StoreError, GateError):
    """A tag already points at a different artifact (tampering or a concurrent writer)."""

    rule = Rule.TAG_MATCHES


@dataclass(frozen=True)
class Artifact:
    """One immutable model in one store."""

    version: int
    tree_digest: str
    ref: str  # a path or bucket URI; for OCI `oci://registry/repo@sha256:<manifest digest>`

    @property
    def manifest_digest(self) -> str:
        return self.ref.rpartition("@")[2] if "@sha256:" in self.ref else ""


# --- the tree digest --------------------------------------------------------------------------


def files_under(root: str | Path) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path parts relative to `root`, full path) of every file below a folder or bucket URI.

    The digest, the bucket upload and the bucket download all walk a model this one way.
    """
    text = str(root)
    if not is_remote(text):
        base = Path(text)
        for path in base.rglob("*"):
            if path.is_file():
                yield path.relative_to(base).parts, str(path)
        return
    import tensorflow as tf

    text = text.rstrip("/")
    for dirpath, _, names in tf.io.gfile.walk(text):
        for name in names:
            full = join_uri(dirpath, name)
            yield tuple(full[len(text) + 1 :].split("/")), full


def _open(path: str) -> IO[bytes]:
    if not is_remote(path):
        return open(path, "rb")
    import tensorflow as tf

    gfile: IO[bytes] = tf.io.gfile.GFile(path, "rb")  # file-like: read(), a context manager
    return gfile


def model_digest(model_dir: str | Path) -> str:
    h = hashlib.sha256()
    for parts, path in sorted(files_under(model_dir)):
        h.update("/".join(parts).encode() + b"\0")
        with _open(path) as f:
            for chunk in iter(functools.partial(f.read, _CHUNK), b""):
                h.update(chunk)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


def verify_tree(path: str | Path, expected: str, what: str) -> None:
    """The one tree-digest check every store kind runs before a model is served or promoted."""
    found = model_digest(path)
    if found != expected:
        raise DigestMismatch(
            f"{what} has digest {found}, but the record says {expected}: it "
            f"changed after it was released (tampering or a broken copy)"
        )


def has_saved_model(model_dir: str) -> bool:
    if not is_remote(model_dir):
        return Path(model_dir, "saved_model.pb").exists()
    import tensorflow as tf

    return bool(tf.io.gfile.exists(join_uri(model_dir, "saved_model.pb")))


def versions(store_dir: str | Path) -> list[int]:
    """Version numbers in a local model store, the way TF Serving sees them."""
    root = Path(store_dir)
    if not root.is_dir():
        return []
    return sorted(
        int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "saved_model.pb").exists()
    )


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


# --- the store kinds ------------------------------------------------------------------------


class ModelStore:
    """What every kind offers. `uri` is `<paths.model_store>/<model_name>`."""

    kind = "abstract"

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def versions(self) -> list[int]:
        raise NotImplementedError

    def resolve(self, version: int) -> Artifact | None:
        """The artifact stored as `version`, or None."""
        raise NotImplementedError

    def publish(self, model_dir: Path, version: int, annotations: dict[str, str]) -> Artifact:
        """Store a new version; it appears whole or not at all."""
        raise NotImplementedError

    def adopt(self, artifact: Artifact, env: str, expected_current: Artifact | None) -> Artifact:
        """Make `artifact` (from this or another store) `env`'s, unchanged, and return it here.

        `expected_current` is what `env`'s record says runs now: a store that keeps a pointer
        per environment (an OCI tag) refuses to move a pointer that says otherwise.
        """
        raise NotImplementedError

    def materialize(self, artifact: Artifact, cache_dir: Path) -> Path:
        """A local SavedModel folder holding exactly `artifact`, both digests checked."""
        raise NotImplementedError

    def newest(self) -> Artifact | None:
        found = self.versions()
        return self.resolve(found[-1]) if found else None
