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
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlops.errors import GateError, InfraError, MlopsError

_CHUNK = 1 << 20
OCI_SCHEME = "oci://"


class StoreError(MlopsError):
    """Base for what a store refuses; `rule` names the promotion rule it stands for."""

    rule = "store"


class ArtifactMissing(StoreError, GateError):
    """The version, tag or digest a record names does not exist in the store."""

    rule = "artifact-exists"


class DigestMismatch(StoreError, GateError):
    """What the store holds is not what the record says (tampering or a broken copy)."""

    rule = "digest-matches"


class TagConflict(StoreError, GateError):
    """A tag already points at a different artifact (tampering or a concurrent writer)."""

    rule = "tag-matches"


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


def verify_tree(path: str | Path, expected: str, what: str) -> None:
    """The one tree-digest check every store kind runs before a model is served or promoted."""
    found = model_digest(path)
    if found != expected:
        raise DigestMismatch(f"{what} has digest {found}, but the record says {expected}: it "
                             f"changed after it was released (tampering or a broken copy)")


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


def _bucket_errors(method):
    """A bucket that cannot be reached or read is infrastructure (exit 3), not a gate verdict."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self.kind != "bucket":
            return method(self, *args, **kwargs)
        import tensorflow as tf

        try:
            return method(self, *args, **kwargs)
        except tf.errors.OpError as exc:
            reason = (exc.message or type(exc).__name__).splitlines()[0][:300]
            raise InfraError(f"cannot use the model store {self.uri} (paths.model_store): "
                             f"{reason}. Check the bucket name and that this machine has "
                             f"credentials for it") from None

    return wrapper


class FolderStore(ModelStore):
    """A local folder, or a bucket through tf.io.gfile: `<uri>/<version>/saved_model.pb`."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        self.kind = "bucket" if "://" in uri else "filesystem"

    def _path(self, version: int) -> str:
        return f"{self.uri.rstrip('/')}/{version}" if self.kind == "bucket" \
            else str(Path(self.uri, str(version)))

    @_bucket_errors
    def versions(self) -> list[int]:
        if self.kind == "filesystem":
            return versions(self.uri)
        import tensorflow as tf

        if not tf.io.gfile.isdir(self.uri):
            return []
        names = [n.rstrip("/") for n in tf.io.gfile.listdir(self.uri)]
        return sorted(int(n) for n in names
                      if n.isdigit() and has_saved_model(self._path(int(n))))

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
                    f"immutable, so remove it or investigate")
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
            raise ArtifactMissing(f"{artifact.ref} holds no SavedModel (version "
                                  f"{artifact.version} is missing from {self.uri})")
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
        raise StoreError(f"{artifact.ref} lives in a registry; promote it into a registry store "
                         f"(set paths.model_store to an oci:// URI)")
    return artifact.ref


def _copy_to_bucket(src: str, target: str) -> str:
    """Object stores have no rename: upload into a hidden sibling, then copy saved_model.pb last.

    TF Serving (and our listing) treat a version as present only once saved_model.pb exists,
    so a reader never sees half a version even though the files land one by one.
    """
    import tensorflow as tf

    files: list[str] = []
    if "://" in src:
        for dirpath, _, names in tf.io.gfile.walk(src):
            files += [f"{dirpath.rstrip('/')}/{n}" for n in names]
    else:
        files = [str(p) for p in Path(src).rglob("*") if p.is_file()]
    files.sort(key=lambda p: p.endswith("saved_model.pb"))
    root = src.rstrip("/")
    for path in files:
        out = target + path[len(root):].replace(os.sep, "/")
        tf.io.gfile.makedirs(out.rsplit("/", 1)[0])
        tf.io.gfile.copy(path, out, overwrite=True)
    return target


def _download_from_bucket(src: str, target: Path) -> None:
    import tensorflow as tf

    partial = target.parent / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    root = src.rstrip("/")
    for dirpath, _, names in tf.io.gfile.walk(root):
        for name in names:
            path = f"{dirpath.rstrip('/')}/{name}"
            out = partial / path[len(root) + 1:]
            out.parent.mkdir(parents=True, exist_ok=True)
            tf.io.gfile.copy(path, str(out), overwrite=True)
    os.rename(partial, target)


def open_store(uri: str) -> ModelStore:
    """The store a `paths.model_store`-derived URI names."""
    if uri.startswith(OCI_SCHEME):
        from components.oci_store import OciStore

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
