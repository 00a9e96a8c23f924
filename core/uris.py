"""Locations that are either local paths or remote URIs (gs://, s3://, oci://, ram://).

One place decides which is which, so every stage treats `paths.*` values alike: remote URIs
are passed on untouched, local paths are resolved against the repository and shown relative
to it.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.paths import REPO_ROOT


def is_remote(uri: str) -> bool:
    """A URI with a scheme: a bucket, a registry or TF's in-memory filesystem."""
    return "://" in uri


OCI = "oci://"


def request_log_store_problem(value: str) -> str:
    """Why `value` is no request-log store, or "" when it is one: empty (sampling off), a
    folder, oci://REGISTRY/REPOSITORY (store/request_log_registry.py) or gs://BUCKET/PATH
    (store/request_log_bucket.py)."""
    if not value or not is_remote(value):
        return ""
    if value.startswith(OCI):
        plain = re.sub(r"\$\{[^}]*\}", "x", value)  # ${NAME:-default} is expanded at load
        host, _, repository = plain[len(OCI) :].rstrip("/").partition("/")
        if host and repository and "@" not in plain and ":" not in repository:
            return ""
        return (
            "expected oci://REGISTRY/REPOSITORY with no tag or digest, for example "
            "oci://ghcr.io/OWNER/REPO/request-log"
        )
    if value.startswith("gs://"):
        if value[len("gs://") :].strip("/"):
            return ""
        return "expected gs://BUCKET/PATH"
    return (
        "must be a folder, oci://REGISTRY/REPOSITORY or gs://BUCKET/PATH; no other scheme is "
        "supported"
    )


def join_uri(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts]) if is_remote(base) else str(Path(base, *parts))


def resolve(uri: str | Path, root: Path = REPO_ROOT) -> str:
    """Absolute for a local path (relative ones are taken from `root`); a remote URI as it is."""
    text = str(uri)
    if not text or is_remote(text):
        return text
    path = Path(text)
    return str(path if path.is_absolute() else (root / path).resolve())


def repo_relative(uri: str) -> str:
    """Repository-relative for local paths inside it, so what a run writes for other jobs (run
    summaries, release records) names no path of the machine that wrote it."""
    if not uri or is_remote(uri):
        return uri
    try:
        return str(Path(uri).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return uri


def display(path: str | Path) -> str:
    """How a path is shown to a person: relative to the working directory when inside it."""
    text = str(path)
    if is_remote(text):
        return text
    try:
        return str(Path(text).resolve().relative_to(Path.cwd()))
    except ValueError:
        return text
