"""GHCR's authentication flow on loopback: the Distribution registry with `auth: token`, and a
small token service that signs the scoped bearer tokens it trusts.

GHCR answers an unauthenticated request with 401 and `WWW-Authenticate: Bearer realm=...,
service=...,scope=...`; the client asks the realm for a token with basic auth (any user name plus
a token such as GITHUB_TOKEN) and retries with `Authorization: Bearer JWT`. The JWT names the
actions granted per repository, and GHCR grants only what the token's `packages:` permission
allows. Here the same happens: `TokenService` holds each issued secret's GitHub permission
(`read` or `write`) over an owner namespace, answers the realm, and signs RS256 JWTs with a key
whose self-signed certificate the registry trusts through `rootcertbundle`. A request for more
than the permission allows gets a token with less, and the registry refuses the request, as GHCR
does. Nothing is faked on the registry's side: the refusals come from Distribution itself.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tools.local_registry import Registry

SERVICE = "replay-ghcr"
ISSUER = "replay-token-service"
# What a job token's `packages:` permission lets it do on the owner's packages. GHCR's
# GITHUB_TOKEN with `packages: write` may also delete versions of the repository's packages.
ACTIONS = {"read": {"pull"}, "write": {"pull", "push", "delete"}}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Grant:
    """One issued secret: who, which permission (`read`/`write`), over which owner namespace."""

    user: str
    packages: str
    namespace: str


@dataclass
class TokenService:
    """The realm: basic auth in, a signed bearer JWT out, scoped by the secret's grant."""

    root: Path
    grants: dict[str, Grant] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)  # what was asked and granted, no secrets

    def __post_init__(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.root.mkdir(parents=True, exist_ok=True)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_path = self.root / "token-issuer.crt"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, body = service.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # no request lines on stderr
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def issue(self, packages: str, namespace: str, user: str = "x-access-token") -> str:
        """A new secret, as GitHub mints a job's GITHUB_TOKEN with `packages: <packages>`."""
        secret = "ghs_" + secrets.token_hex(16)
        self.grant(secret, packages, namespace, user)
        return secret

    def grant(
        self, secret: str, packages: str, namespace: str, user: str = "x-access-token"
    ) -> None:
        """Let `secret` (minted elsewhere, e.g. a replayed job's token) use the packages."""
        if packages not in ACTIONS:
            raise ValueError(f"packages permission {packages!r}: expected read or write")
        self.grants[secret] = Grant(user, packages, namespace.lower().strip("/"))

    def revoke(self, secret: str) -> None:
        """A job ended: its token stops working, as GITHUB_TOKEN does."""
        self.grants.pop(secret, None)

    def answer(self, path: str, authorization: str) -> tuple[int, dict]:
        query = parse_qs(urlsplit(path).query)
        if query.get("service", [""])[0] != SERVICE:
            return 400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service"}]}
        grant: Grant | None = None
        if authorization.startswith("Basic "):
            try:
                _, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad basic auth"}]}
            grant = self.grants.get(secret)
            if grant is None:
                return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
        access = []
        for scope in (s for value in query.get("scope", []) for s in value.split(" ")):
            kind, _, rest = scope.partition(":")
            name, _, wanted = rest.rpartition(":")
            if kind != "repository" or grant is None:
                continue  # anonymous: no access, as for a private package
            if not (name == grant.namespace or name.startswith(grant.namespace + "/")):
                continue
            allowed = sorted(set(wanted.split(",")) & ACTIONS[grant.packages])
            if allowed:
                access.append({"type": "repository", "name": name, "actions": allowed})
        self.requests.append(
            {
                "user": grant.user if grant else "",
                "scope": query.get("scope", []),
                "granted": access,
            }
        )
        token = self._sign(grant.user if grant else "", access)
        return 200, {"token": token, "access_token": token, "expires_in": 300}

    def _sign(self, subject: str, access: list[dict]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "iat": now,
            "nbf": now - 30,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def registry_auth(self) -> str:
        """The `auth:` section of the registry's config that trusts this service."""
        return (
            f"auth: {{token: {{realm: '{self.realm}', service: {SERVICE}, issuer: {ISSUER}, "
            f"rootcertbundle: '{self.cert_path}'}}}}\n"
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class TokenRegistry:
    """A registry that authenticates as GHCR does, with its token service."""

    def __init__(self, root: Path) -> None:
        self.tokens = TokenService(root / "token-service")
        try:
            self.registry = Registry(root / "registry", auth_yaml=self.tokens.registry_auth())
        except BaseException:
            self.tokens.stop()
            raise
        self.host = self.registry.host

    def store_uri(self, namespace: str) -> str:
        return self.registry.store_uri(namespace)

    # What a test reads with skopeo, as the package's owner would (a read token of its own).

    def _creds(self, repository: str) -> str:
        return "owner:" + self.tokens.issue("read", repository.split("/", 1)[0])

    def tags(self, repository: str) -> list[str]:
        out = self.registry.skopeo(
            "list-tags", f"docker://{self.host}/{repository}", creds=self._creds(repository)
        )
        return sorted(json.loads(out.stdout)["Tags"]) if out.returncode == 0 else []

    def raw_manifest(self, ref: str) -> tuple[dict, str]:
        """The manifest at `ref` (HOST/REPOSITORY:TAG or @DIGEST) and the sha256 of its bytes."""
        repository = ref.split("/", 1)[1].split("@", 1)[0].rsplit(":", 1)[0]
        raw = self.registry.skopeo(
            "inspect", "--raw", f"docker://{ref}", creds=self._creds(repository)
        )
        assert raw.returncode == 0, raw.stderr
        return json.loads(raw.stdout), "sha256:" + hashlib.sha256(raw.stdout.encode()).hexdigest()

    def stop(self) -> None:
        self.registry.stop()
        self.tokens.stop()
