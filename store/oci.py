"""Models as OCI artifacts in a registry: GHCR by default, or any OCI registry.

Why a registry: every GitHub repository has one (GHCR, with GITHUB_TOKEN), it outlives the
runner, and it addresses content by digest, so one artifact moves dev -> staging -> prod by
tagging (or copying byte for byte to another registry), never by a rebuild. A laptop's dev keeps
a folder store; its version folder enters the registry once, published as the Pusher would,
after its tree digest is checked.

Layout, following the CNCF ModelPack specification so other tools (modctl, KitOps) can read it:
- one manifest per model version, `artifactType` application/vnd.cncf.model.manifest.v1+json;
- its config is a ModelPack model config (name, version, format, the layer's diff id);
- one layer: the SavedModel version folder as a reproducible tar+gzip whose top folder is the
  version number, titled with it and marked for unpacking, so the ORAS CLI (the pods' init
  container) restores `<version>/saved_model.pb` exactly as this module does;
- annotations: model name, version, source commit, pipeline run, tree digest, metrics;
- tags: `<version>` when the Pusher publishes, and one per environment (`dev`, `staging`,
  `prod`) that promotion and rollback move. A tag is moved only from what the environment's
  record says it points at, so a tampered or raced tag is refused.

The ORAS Python SDK supplies the registry client's credentials handling (Docker credential
file, bearer-token exchange) and reference parsing; the requests themselves are made here with
a timeout and no silent multi-minute retries, so an unreachable registry fails in seconds.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import ConfigError, InfraError
from core.uris import is_remote
from core.verdicts import Rule
from store import base as model_store
from store.base import (
    OCI_SCHEME,
    Artifact,
    ArtifactMissing,
    DigestMismatch,
    ModelStore,
    StoreError,
    TagConflict,
    model_digest,
)
from store.registry_access import Access, access_for, refusal

if TYPE_CHECKING:  # imported when a store is opened, so the CLI starts without it
    import requests

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
ARTIFACT_TYPE = "application/vnd.cncf.model.manifest.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.cncf.model.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.cncf.model.weight.v1.tar+gzip"
TITLE = "org.opencontainers.image.title"
UNPACK = "io.deis.oras.content.unpack"  # read by the ORAS CLI: extract this layer as a folder
UNPACK_DIGEST = "io.deis.oras.content.digest"
PREFIX = "mlops.template.model."
TREE_DIGEST = PREFIX + "tree-digest"
VERSION = PREFIX + "version"
TIMEOUT = (5, 120)  # connect, read (seconds)
_LOOPBACK = ("127.", "localhost", "[::1]")


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def pack(model_dir: Path, version: int) -> tuple[bytes, str]:
    """A reproducible tar.gz of the version folder and the digest of the uncompressed tar.

    Sorted entries, zeroed times and owners: the same tree always gives the same bytes, so a
    re-publish of an identical model is recognisable by its layer digest.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        root = Path(model_dir)
        paths = sorted(root.rglob("*"), key=lambda p: p.relative_to(root).parts)
        for path in [root, *paths]:
            rel = Path(str(version), path.relative_to(root)) if path != root else Path(str(version))
            info = tar.gettarinfo(str(path), arcname=rel.as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if info.isdir() else 0o644
            if info.isfile():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            elif info.isdir():
                tar.addfile(info)
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), _sha256(tar_bytes)


def unpack(blob: bytes, into: Path) -> None:
    """Extract a layer made by `pack`, refusing anything outside `into` or not a plain file."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            target = (into / member.name).resolve()
            if not (member.isfile() or member.isdir()) or not str(target).startswith(
                str(into.resolve()) + os.sep
            ):
                raise DigestMismatch(
                    f"layer entry {member.name!r} is not a plain file inside "
                    f"the model folder; refusing to unpack it"
                )
        tar.extractall(into, filter="data")


def answers(registry: str, timeout: float = 2.0) -> bool:
    """Whether anything answers the registry API at `registry` (HOST[:PORT]): any HTTP status
    counts, since 401 only means credentials are wanted. For advice, not for a gate."""
    import urllib.error
    import urllib.request

    scheme = "http" if registry.startswith(_LOOPBACK) else "https"
    try:
        urllib.request.urlopen(f"{scheme}://{registry}/v2/", timeout=timeout).close()
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


class OciStore(ModelStore):
    """`oci://registry/namespace/<model_name>`: one repository, a manifest per version."""

    kind = "oci"
    setting = "paths.model_store"  # the config key a message names; a subclass names its own
    what = "model registry"
    label = "model store"

    def __init__(self, uri: str) -> None:
        super().__init__(uri)
        import oras.auth
        import requests

        self._requests = requests
        rest = uri[len(OCI_SCHEME) :].split("@", 1)[0].rstrip("/")
        host, _, path = rest.partition("/")
        if not host or not path or "${" in rest:
            raise ConfigError(
                f"{self.label} {uri!r}: expected oci://REGISTRY/NAMESPACE/..., "
                f"with every ${{...}} variable set ({self.setting})"
            )
        # Registries require lower-case repository names; GITHUB_REPOSITORY may be mixed-case.
        self.registry, self.repository = host.lower(), path.lower()
        self.name = f"{self.registry}/{self.repository}"
        self.insecure = self.registry.startswith(_LOOPBACK)  # plain HTTP only on loopback
        self._scheme = "http" if self.insecure else "https"
        self._session = requests.Session()
        self._auth = oras.auth.get_auth_backend("token", self._session, self.insecure)
        import oras.container

        self._container = oras.container.Container(f"{self.registry}/{self.repository}")
        self._basic: tuple[str, str] | None = None
        self._credential_source = "none"
        self._intent = Access.READ  # what the current operation needs; names a refusal's fix
        self._load_credentials()

    # --- credentials -------------------------------------------------------------------------

    def _load_credentials(self) -> None:
        """Environment variables first, then GITHUB_TOKEN for GHCR, then the Docker config."""
        user = os.environ.get("MODEL_REGISTRY_USERNAME", "")
        password = os.environ.get("MODEL_REGISTRY_PASSWORD", "")
        if user and password:
            self._basic, self._credential_source = (user, password), "MODEL_REGISTRY_USERNAME"
        elif self.registry == "ghcr.io" and os.environ.get("GITHUB_TOKEN"):
            self._basic = (
                os.environ.get("GITHUB_ACTOR") or "github-actions",
                os.environ["GITHUB_TOKEN"],
            )
            self._credential_source = "GITHUB_TOKEN"
        if self._basic:
            self._auth.set_basic_auth(*self._basic)
        else:
            # The SDK reads ~/.docker/config.json; honour $DOCKER_CONFIG as the Docker CLI does.
            folder = os.environ.get("DOCKER_CONFIG")
            configs = [os.path.join(folder, "config.json")] if folder else None
            self._auth.load_configs(self._container, configs=configs)
            if getattr(self._auth, "_basic_auth", None):
                self._credential_source = "the Docker credential file"

    # --- HTTP --------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self._scheme}://{self.registry}/v2/{self.repository}/{path}"

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> requests.Response:
        """One request with the registry's auth dance; infrastructure failures become InfraError."""
        headers = dict(headers or {})
        headers.update(self._auth.get_auth_header())
        try:
            response = self._session.request(
                method, url, headers=headers, data=data, timeout=TIMEOUT
            )
            if response.status_code in (401, 403):
                response = self._authenticate(response, method, url, headers, data)
        except self._requests.exceptions.RequestException as exc:
            reason = type(exc).__name__
            raise InfraError(
                f"refused ({Rule.REGISTRY_REACHABLE}): cannot reach the {self.what} "
                f"{self.registry} ({reason}) for {self.uri}; check the address in "
                f"{self.setting}, your network, or that the registry is "
                f"running"
            ) from None
        if response.status_code in (401, 403):
            raise InfraError(
                refusal(
                    self.registry,
                    self.repository,
                    response.status_code,
                    access_for(method, self._intent),
                    self._credential_source,
                )
            )
        return response

    def _authenticate(
        self,
        response: requests.Response,
        method: str,
        url: str,
        headers: dict[str, str],
        data: bytes | None,
    ) -> requests.Response:
        challenge = response.headers.get("Www-Authenticate", "")
        if challenge.lower().startswith("basic"):
            if not self._basic and getattr(self._auth, "_basic_auth", None):
                headers["Authorization"] = f"Basic {self._auth._basic_auth}"
            elif self._basic:
                import base64

                token = base64.b64encode(":".join(self._basic).encode()).decode()
                headers["Authorization"] = f"Basic {token}"
            else:
                return response
        else:
            try:
                headers, changed = self._auth.authenticate_request(response, headers, refresh=True)
            except (self._requests.exceptions.RequestException, ValueError, KeyError):
                changed = False
            if not changed:
                return response
        return self._session.request(method, url, headers=headers, data=data, timeout=TIMEOUT)

    def _manifest(self, reference: str) -> tuple[bytes, str] | None:
        """Raw manifest bytes and digest for a tag or digest, or None when absent."""
        response = self._request(
            "GET", self._url(f"manifests/{reference}"), headers={"Accept": MANIFEST_MEDIA_TYPE}
        )
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise StoreError(
                f"{self.registry} answered HTTP {response.status_code} for "
                f"{self.name}:{reference}: {response.text[:200]}"
            )
        body = response.content
        return body, _sha256(body)

    def _put_manifest(self, reference: str, body: bytes) -> str:
        response = self._request(
            "PUT",
            self._url(f"manifests/{reference}"),
            headers={"Content-Type": MANIFEST_MEDIA_TYPE},
            data=body,
        )
        if response.status_code not in (200, 201):
            raise StoreError(
                f"{self.registry} refused the manifest for {self.name}:{reference} "
                f"(HTTP {response.status_code}): {response.text[:300]}"
            )
        digest = _sha256(body)
        echoed = response.headers.get("Docker-Content-Digest")
        if echoed and echoed != digest:
            raise DigestMismatch(
                f"{self.registry} stored the manifest as {echoed}, expected {digest}"
            )
        return digest

    def _blob(self, digest: str) -> bytes:
        response = self._request("GET", self._url(f"blobs/{digest}"))
        if response.status_code == 404:
            raise ArtifactMissing(f"blob {digest} is missing from {self.name}")
        if response.status_code != 200:
            raise StoreError(
                f"{self.registry} answered HTTP {response.status_code} for blob "
                f"{digest} of {self.name}"
            )
        data = response.content
        if _sha256(data) != digest:
            raise DigestMismatch(
                f"blob {digest} of {self.name} arrived with digest "
                f"{_sha256(data)}: corrupted in the registry or in transit"
            )
        return data

    def _put_blob(self, data: bytes, digest: str) -> None:
        head = self._request("HEAD", self._url(f"blobs/{digest}"))
        if head.status_code == 200:
            return
        start = self._request("POST", self._url("blobs/uploads/"))
        location = start.headers.get("Location", "")
        if start.status_code != 202 or not location:
            raise StoreError(
                f"{self.registry} did not start a blob upload to {self.name} "
                f"(HTTP {start.status_code}): {start.text[:200]}"
            )
        if location.startswith("/"):
            location = f"{self._scheme}://{self.registry}{location}"
        sep = "&" if "?" in location else "?"
        done = self._request(
            "PUT",
            f"{location}{sep}digest={digest}",
            headers={"Content-Type": "application/octet-stream"},
            data=data,
        )
        if done.status_code != 201:
            raise StoreError(
                f"{self.registry} refused blob {digest} for {self.name} "
                f"(HTTP {done.status_code}): {done.text[:200]}"
            )

    # --- the store interface ---------------------------------------------------------------

    def tags(self) -> list[str]:
        response = self._request("GET", self._url("tags/list"))
        if response.status_code == 404:
            return []
        if response.status_code != 200:
            raise StoreError(
                f"{self.registry} answered HTTP {response.status_code} listing tags of {self.name}"
            )
        return list(response.json().get("tags") or [])

    def tag_digest(self, tag: str) -> str | None:
        found = self._manifest(tag)
        return found[1] if found else None

    def delete(self, digest: str) -> bool:
        """Delete manifest `digest`, and with it every tag on it, through the registry API
        (`mlops gc`); False when it was already gone. Callers check that no release needs it."""
        if not digest.startswith("sha256:"):
            raise StoreError(f"delete takes a manifest digest (sha256:...), got {digest!r}")
        with self._needs(Access.DELETE):
            response = self._request("DELETE", self._url(f"manifests/{digest}"))
        if response.status_code in (200, 202):
            return True
        if response.status_code == 404:
            return False
        if response.status_code == 405 and self.registry == "ghcr.io":
            return self._delete_through_github(digest)
        if response.status_code == 405:
            raise InfraError(
                f"the registry {self.registry} does not allow deletes through the registry "
                f"API (HTTP 405) for {self.name}@{digest}: a Distribution registry needs "
                f"`storage: delete: enabled: true` in its config; another registry deletes "
                f"through its own API or console"
            )
        raise StoreError(
            f"{self.registry} answered HTTP {response.status_code} deleting "
            f"{self.name}@{digest}: {response.text[:200]}"
        )

    def _delete_through_github(self, digest: str) -> bool:
        """GHCR refuses the registry API's delete; GitHub's REST API deletes the version."""
        from store.ghcr_versions import delete_version

        if not self._basic:
            raise InfraError(refusal(self.registry, self.repository, 401, Access.DELETE, "none"))
        api = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
        return delete_version(self.repository, digest, self._basic[1], api)

    def versions(self) -> list[int]:
        return sorted(int(t) for t in self.tags() if t.isdigit())

    def ref(self, manifest_digest: str) -> str:
        return f"{OCI_SCHEME}{self.name}@{manifest_digest}"

    def _artifact(self, body: bytes, digest: str) -> Artifact:
        annotations = json.loads(body).get("annotations") or {}
        tree, version = annotations.get(TREE_DIGEST, ""), annotations.get(VERSION, "")
        if not tree.startswith("sha256:") or not version.isdigit():
            raise DigestMismatch(
                f"{self.name}@{digest} is not a model artifact of this template "
                f"(no {TREE_DIGEST} / {VERSION} annotations)"
            )
        return Artifact(int(version), tree, self.ref(digest))

    def resolve(self, version: int) -> Artifact | None:
        found = self._manifest(str(version))
        return self._artifact(*found) if found else None

    @contextlib.contextmanager
    def _needs(self, access: Access) -> Iterator[None]:
        """Within: a refusal of any request (reads included) names `access`'s fix."""
        before, self._intent = self._intent, access
        try:
            yield
        finally:
            self._intent = before

    def publish(self, model_dir: Path, version: int, annotations: dict[str, str]) -> Artifact:
        with self._needs(Access.WRITE):
            return self._publish(model_dir, version, annotations)

    def _publish(self, model_dir: Path, version: int, annotations: dict[str, str]) -> Artifact:
        tree = model_digest(model_dir)
        layer, diff_id = pack(Path(model_dir), version)
        layer_digest = _sha256(layer)
        config = json.dumps(
            {
                "descriptor": {
                    "name": annotations.get(PREFIX + "name", ""),
                    "version": str(version),
                },
                "config": {"format": "tensorflow-savedmodel"},
                "modelfs": {"type": "layers", "diffIds": [diff_id]},
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "config": {
                "mediaType": CONFIG_MEDIA_TYPE,
                "digest": _sha256(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": LAYER_MEDIA_TYPE,
                    "digest": layer_digest,
                    "size": len(layer),
                    "annotations": {TITLE: str(version), UNPACK: "true", UNPACK_DIGEST: diff_id},
                }
            ],
            "annotations": {**annotations, VERSION: str(version), TREE_DIGEST: tree},
        }
        body = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
        existing = self._manifest(str(version))
        if existing is not None:
            found = self._artifact(*existing)
            if found.tree_digest != tree:
                raise TagConflict(
                    f"{self.name}:{version} already holds a different model "
                    f"(tree {found.tree_digest}, this one {tree}); versions are "
                    f"immutable"
                )
            return found
        self._put_blob(layer, layer_digest)
        self._put_blob(config, _sha256(config))
        digest = self._put_manifest(str(version), body)
        return Artifact(version, tree, self.ref(digest))

    def adopt(self, artifact: Artifact, env: str, expected_current: Artifact | None) -> Artifact:
        with self._needs(Access.WRITE):
            return self._adopt(artifact, env, expected_current)

    def _adopt(self, artifact: Artifact, env: str, expected_current: Artifact | None) -> Artifact:
        if not artifact.ref.startswith(OCI_SCHEME):
            artifact = self._publish_folder(artifact)
        digest = artifact.manifest_digest
        if not digest:
            raise StoreError(
                f"{artifact.ref} names no manifest digest (oci://REGISTRY/REPOSITORY@sha256:...);"
                f" a registry artifact is promoted by digest"
            )
        source = OciStore(artifact.ref)
        if source.name != self.name:
            self._copy_from(source, digest, artifact.version)
        elif self._manifest(digest) is None:
            raise ArtifactMissing(f"{artifact.ref} does not exist in {self.registry}")
        pointed = self.tag_digest(env)
        expected = (
            expected_current.manifest_digest
            if expected_current is not None
            and expected_current.ref.startswith(f"{OCI_SCHEME}{self.name}@")
            else None
        )
        if pointed is not None and pointed not in (expected, digest):
            raise TagConflict(
                f"tag {self.name}:{env} points at {pointed}, but {env}'s release "
                f"record says {expected or 'nothing (no release)'}: the tag was "
                f"moved outside `mlops promote` (tampering or a concurrent "
                f"promotion). Inspect it, then restore the tag or the record"
            )
        body, _ = self._manifest(digest) or (b"", "")
        self._put_manifest(env, body)
        return Artifact(artifact.version, artifact.tree_digest, self.ref(digest))

    def _publish_folder(self, artifact: Artifact) -> Artifact:
        """A version folder from a folder store (a laptop's dev), published here as the Pusher
        would: the same files, checked against the tree digest before anything is pushed."""
        if is_remote(artifact.ref):
            raise StoreError(
                f"{artifact.ref} is in a bucket; a registry store {self.uri} takes registry "
                f"artifacts or local version folders"
            )
        model_store.verify_tree(artifact.ref, artifact.tree_digest, f"the model at {artifact.ref}")
        name = self.repository.rsplit("/", 1)[-1]
        return self.publish(
            Path(artifact.ref),
            artifact.version,
            {PREFIX + "name": name, "org.opencontainers.image.version": str(artifact.version)},
        )

    def _copy_from(self, source: OciStore, digest: str, version: int) -> None:
        """Byte-for-byte: blobs, then the same manifest bytes, so the digest is unchanged."""
        found = source._manifest(digest)
        if found is None:
            raise ArtifactMissing(f"{source.name}@{digest} does not exist")
        body, _ = found
        manifest = json.loads(body)
        for blob in [manifest["config"], *manifest.get("layers", [])]:
            self._put_blob(source._blob(blob["digest"]), blob["digest"])
        existing = self.tag_digest(str(version))
        if existing is not None and existing != digest:
            raise TagConflict(
                f"{self.name}:{version} already points at {existing}, not "
                f"{digest}; versions are immutable"
            )
        self._put_manifest(str(version), body)

    def materialize(self, artifact: Artifact, cache_dir: Path) -> Path:
        digest = artifact.manifest_digest
        found = self._manifest(digest) if digest else None
        if found is None:
            raise ArtifactMissing(
                f"{artifact.ref} does not exist in {self.registry} (deleted, "
                f"or the record names a digest that was never pushed)"
            )
        body, actual = found
        if actual != digest:
            raise DigestMismatch(
                f"{self.registry} returned a manifest with digest {actual} for {artifact.ref}"
            )
        stored = self._artifact(body, digest)
        if stored.tree_digest != artifact.tree_digest:
            raise DigestMismatch(
                f"{artifact.ref} is annotated with tree digest "
                f"{stored.tree_digest}, but the record says "
                f"{artifact.tree_digest}"
            )
        target = Path(cache_dir) / digest[7:] / str(stored.version)
        if target.exists():
            try:  # a cached pull is re-checked, never trusted
                model_store.verify_tree(target, artifact.tree_digest, f"the cached {target}")
                return target
            except DigestMismatch:
                pass
        shutil.rmtree(target, ignore_errors=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        layers = json.loads(body).get("layers") or []
        if len(layers) != 1:
            raise DigestMismatch(
                f"{artifact.ref} has {len(layers)} layers; a model artifact has exactly one"
            )
        blob = self._blob(layers[0]["digest"])
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull.") as tmp:
            unpack(blob, Path(tmp))
            pulled = Path(tmp) / str(stored.version)
            if not pulled.is_dir():
                raise DigestMismatch(f"{artifact.ref} holds no folder {stored.version}/")
            model_store.verify_tree(pulled, artifact.tree_digest, f"the files of {artifact.ref}")
            os.rename(pulled, target)
        return target
