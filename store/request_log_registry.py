"""The request-log store in an OCI registry (monitoring.request_log.store: oci://REGISTRY/REPO).

A CI runner never sees a folder on a serving pod, so a pod's samples go to a registry the runner
can read: the same registry, credentials and HTTP client as the model store (store/oci.py, auth
from MODEL_REGISTRY_USERNAME/PASSWORD, GITHUB_TOKEN for GHCR, or the Docker credential file).

Layout, readable with the ORAS CLI (`oras pull REGISTRY/REPOSITORY:TAG` writes the file):
- one artifact per rotated file of the logger's spool; its tag is the file's name without the
  suffix, `requests-<20-digit nanoseconds>`, so tags sort by the time the file was closed;
- `artifactType` application/vnd.tfx-gitops.request-log.v1, the OCI empty config, and one layer:
  the file's JSON lines, gzip-compressed, titled `requests-<ns>.jsonl.gz`;
- at most `max_files` tags: after each publish the oldest artifacts are deleted through the
  registry API, as `mlops gc` deletes models (a Distribution registry needs
  `storage: delete: enabled: true`; GHCR deletes through GitHub's API).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from core.errors import ConfigError, InfraError
from core.uris import OCI, request_log_store_problem
from store import request_log as L
from store.base import StoreError
from store.oci import MANIFEST_MEDIA_TYPE, TITLE, OciStore, _sha256
from store.registry_access import Access

ARTIFACT_TYPE = "application/vnd.tfx-gitops.request-log.v1"
LAYER_MEDIA_TYPE = "application/vnd.tfx-gitops.request-log.v1.jsonl+gzip"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY = b"{}"
ROWS = "org.tfx-gitops.request-log.rows"


class RequestLogRegistry(OciStore):
    """One registry repository holding the rotated files of one environment's request log."""

    setting = L.SETTING
    what = "request-log registry"
    label = "request-log store"

    def __init__(self, uri: str) -> None:
        problem = request_log_store_problem(uri)
        if problem or not uri.startswith(OCI):
            raise ConfigError(f"{L.SETTING}: {uri!r}: {problem or 'not an oci:// URI'}")
        super().__init__(uri)

    def files(self) -> list[str]:
        """The published files' tags, oldest first."""
        return sorted(t for t in self.tags() if L.TAG.match(t))

    def publish_file(self, path: Path) -> str:
        """Push one rotated file as an artifact tagged with its name; the manifest digest."""
        tag = path.name.removesuffix(".jsonl")
        if not L.TAG.match(tag):
            raise StoreError(f"{path}: not a rotated request-log file (requests-<ns>.jsonl)")
        text = path.read_bytes()
        layer = gzip.compress(text, mtime=0)
        rows = sum(1 for line in text.splitlines() if line.strip())
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_MEDIA_TYPE, "digest": _sha256(EMPTY), "size": 2},
            "layers": [
                {
                    "mediaType": LAYER_MEDIA_TYPE,
                    "digest": _sha256(layer),
                    "size": len(layer),
                    # the tag in the title: two files with the same bytes are still two
                    # manifests, so deleting the older one's digest keeps the newer tag
                    "annotations": {TITLE: f"{tag}.jsonl.gz"},
                }
            ],
            "annotations": {ROWS: str(rows)},
        }
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        with self._needs(Access.WRITE):
            self._put_blob(layer, _sha256(layer))
            self._put_blob(EMPTY, _sha256(EMPTY))
            return self._put_manifest(tag, body)

    def prune(self, keep: int) -> int:
        """Delete the oldest published files beyond `keep`; how many were deleted."""
        tags = self.files()
        deleted = 0
        for tag in tags[: max(0, len(tags) - keep)]:
            digest = self.tag_digest(tag)
            if digest and self.delete(digest):
                deleted += 1
        return deleted

    def _text(self, tag: str) -> L.Lines:
        found = self._manifest(tag)
        if found is None:  # deleted by the logger's retention while we listed: nothing to read
            return L.Lines([], 0, "")
        layers = json.loads(found[0]).get("layers") or []
        where = f"{self.uri}:{tag}"
        if len(layers) != 1 or layers[0].get("mediaType") != LAYER_MEDIA_TYPE:
            return L.Lines([], 1, f"{where}: not a request-log artifact ({ARTIFACT_TYPE})")
        try:
            text = gzip.decompress(self._blob(layers[0]["digest"])).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ConfigError(f"request-log store {where}: unreadable: {exc}") from None
        return L.parse_lines(text, where)

    def read_window(self, limit: int) -> L.Window:
        """The newest `limit` rows, pulling the newest files first and no more than needed; an
        unreachable registry is an InfraError (exit 3) naming the store and the setting."""
        try:
            tags = self.files()

            def pulled() -> Iterator[L.Lines]:
                for tag in reversed(tags):
                    yield self._text(tag)

            return L.newest(pulled(), limit, len(tags))
        except StoreError as exc:  # an answer that is not the protocol's: name the store
            raise InfraError(f"request-log store {self.uri} ({L.SETTING}): {exc}") from None
