"""Opening the model store a URI names: a folder, a bucket (tf.io.gfile) or an OCI registry.

The interface, the errors and the digests every kind shares live in `store.base`; the folder
and bucket kind lives here, the registry kind in `store.oci`.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from core.errors import InfraError
from core.uris import is_remote, join_uri
from store.base import (
    OCI_SCHEME,
    Artifact,
    ArtifactMissing,
    DigestMismatch,
    ModelStore,
    StoreError,
    TagConflict,
    files_under,
    has_saved_model,
    model_digest,
    publish_atomically,
    verify_tree,
    versions,
)
from store.oci import OciStore

__all__ = [
    "OCI_SCHEME",
    "Artifact",
    "ArtifactMissing",
    "DigestMismatch",
    "FolderStore",
    "ModelStore",
    "StoreError",
    "TagConflict",
    "has_saved_model",
    "materialize",
    "model_digest",
    "open_store",
    "publish_atomically",
    "store_of",
    "verify_tree",
    "versions",
]


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _bucket_errors(
    method: Callable[Concatenate[FolderStore, _P], _R],
) -> Callable[Concatenate[FolderStore, _P], _R]:
    """A bucket that cannot be reached or read is infrastructure (exit 3), not a gate verdict."""

    @functools.wraps(method)
    def wrapper(self: FolderStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        if self.kind != "bucket":
            return method(self, *args, **kwargs)
        import tensorflow as tf

        try:
            return method(self, *args, **kwargs)
        except tf.errors.OpError as exc:
            reason = (exc.message or type(exc).__name__).splitlines()[0][:300]
            raise InfraError(
                f"cannot use the model store {self.uri} (paths.model_store): "
                f"{reason}. Check the bucket name and that this machine has "
                f"credentials for it"
            ) from None

    return wrapper


class FolderStore(ModelStore):
    """A local folder, or a bucket through tf.io.gfile: `<uri>/<version>/saved_model.pb`."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.kind = "bucket" if is_remote(uri) else "filesystem"

    def _path(self, version: int) -> str:
        return join_uri(self.uri, str(version))

    @_bucket_errors
    def versions(self) -> list[int]:
        if self.kind == "filesystem":
            return versions(self.uri)
        import tensorflow as tf

        if not tf.io.gfile.isdir(self.uri):
            return []
        names = [n.rstrip("/") for n in tf.io.gfile.listdir(self.uri)]
        return sorted(int(n) for n in names if n.isdigit() and has_saved_model(self._path(int(n))))

    @_bucket_errors
    def resolve(self, version: int) -> Artifact | None:
        path = self._path(version)
        if not has_saved_model(path):
            return None
        return Artifact(version, model_digest(path), path)

    @_bucket_errors
    def publish(self, model_dir: Path, version: int, annotations: dict[str, str]) -> Artifact:
        del annotations  # a folder has nowhere to keep them; the release record does
        digest = model_digest(model_dir)
        if self.kind == "filesystem":
            path = str(publish_atomically(model_dir, self.uri, version))
        else:
            path = _copy_to_bucket(str(model_dir), self._path(version))
        return Artifact(version, digest, path)

    @_bucket_errors
    def adopt(self, artifact: Artifact, env: str, expected_current: Artifact | None) -> Artifact:
        del env, expected_current  # folders keep no per-environment pointer
        existing = self.resolve(artifact.version)
        if existing is not None:
            if existing.tree_digest != artifact.tree_digest:
                raise DigestMismatch(
                    f"{existing.ref} already holds a different model (digest "
                    f"{existing.tree_digest}, expected {artifact.tree_digest}); versions are "
                    f"immutable, so remove it or investigate"
                )
            return existing
        source = _local_copy_source(artifact)
        if self.kind == "filesystem":
            Path(self.uri).mkdir(parents=True, exist_ok=True)
            target = str(publish_atomically(source, self.uri, artifact.version))
        else:
            target = _copy_to_bucket(source, self._path(artifact.version))
        verify_tree(target, artifact.tree_digest, f"the copy at {target}")
        return Artifact(artifact.version, artifact.tree_digest, target)

    @_bucket_errors
    def materialize(self, artifact: Artifact, cache_dir: Path) -> Path:
        if not has_saved_model(artifact.ref):
            raise ArtifactMissing(
                f"{artifact.ref} holds no SavedModel (version "
                f"{artifact.version} is missing from {self.uri})"
            )
        verify_tree(artifact.ref, artifact.tree_digest, f"the model at {artifact.ref}")
        if self.kind == "filesystem":
            return Path(artifact.ref)
        target = Path(cache_dir) / artifact.tree_digest[7:] / str(artifact.version)
        if not target.exists():
            _download_from_bucket(artifact.ref, target)
        return target


def _local_copy_source(artifact: Artifact) -> str:
    """A folder or bucket path to copy from (OCI artifacts are pulled first)."""
    if artifact.ref.startswith(OCI_SCHEME):
        raise StoreError(
            f"{artifact.ref} lives in a registry; promote it into a registry store "
            f"(set paths.model_store to an oci:// URI)"
        )
    return artifact.ref


def _copy_to_bucket(src: str, target: str) -> str:
    """Object stores have no rename: upload into a hidden sibling, then copy saved_model.pb last.

    TF Serving (and our listing) treat a version as present only once saved_model.pb exists,
    so a reader never sees half a version even though the files land one by one.
    """
    import tensorflow as tf

    files = sorted(files_under(src), key=lambda file: file[0][-1] == "saved_model.pb")
    for parts, path in files:
        out = join_uri(target, *parts)
        tf.io.gfile.makedirs(out.rsplit("/", 1)[0])
        tf.io.gfile.copy(path, out, overwrite=True)
    return target


def _download_from_bucket(src: str, target: Path) -> None:
    import tensorflow as tf

    partial = target.parent / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    for parts, path in files_under(src):
        out = partial.joinpath(*parts)
        out.parent.mkdir(parents=True, exist_ok=True)
        tf.io.gfile.copy(path, str(out), overwrite=True)
    os.rename(partial, target)


def open_store(uri: str) -> ModelStore:
    """The store a `paths.model_store`-derived URI names."""
    if uri.startswith(OCI_SCHEME):
        return OciStore(uri)
    return FolderStore(uri)


def store_of(ref: str) -> ModelStore:
    """The store an artifact reference (a record's `uri`) lives in."""
    if ref.startswith(OCI_SCHEME):
        return open_store(ref.split("@", 1)[0])
    return open_store(ref.rstrip("/").rsplit("/", 1)[0])


def materialize(uri: str, digest: str, cache_dir: str | Path, version: int | None = None) -> Path:
    """A local SavedModel folder holding exactly the artifact `uri` names, its digest verified.

    Callers that need to read a released model (serving, the baseline, the decay check) go
    through here, whatever kind of store holds it; `cache_dir` is where remote kinds pull to.
    """
    if version is None:
        tail = uri.split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        version = int(tail) if tail.isdigit() else 0
    artifact = Artifact(version, digest, uri)
    return store_of(uri).materialize(artifact, Path(cache_dir))
