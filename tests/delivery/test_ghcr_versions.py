"""GHCR refuses the registry API's delete (405), so `mlops gc` deletes a GHCR version through
GitHub's REST API: found by its digest among the package's versions (organisation first, then
user, every page), deleted by id; a refusal names the permission and the package role."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from core.errors import InfraError
from store.ghcr_versions import PAGE, delete_version

TOKEN = "ghs_gc_token"
PACKAGE_PATH = "/users/acme/packages/container/taxi%2Fmodels%2Ftaxi_tips/versions"


class FakePackages:
    """A user's container package with `count` versions; records every call."""

    def __init__(self, count: int, refuse_delete: bool = False) -> None:
        self.versions = [{"id": 9000 + i, "name": f"sha256:{i:064x}"} for i in range(count)]
        self.calls: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: object = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.calls.append(("GET", self.path))
                url = urlparse(self.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    return self._answer(401, {"message": "Bad credentials"})
                if url.path != PACKAGE_PATH:
                    return self._answer(404, {"message": "Not Found"})
                query = parse_qs(url.query)
                size, page = int(query["per_page"][0]), int(query["page"][0])
                return self._answer(200, fake.versions[(page - 1) * size : page * size])

            def do_DELETE(self) -> None:
                fake.calls.append(("DELETE", self.path))
                if refuse_delete:
                    return self._answer(403, {"message": "admin role required"})
                wanted = int(self.path.rsplit("/", 1)[1])
                fake.versions = [v for v in fake.versions if v["id"] != wanted]
                return self._answer(204)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def api() -> Iterator[FakePackages]:
    fake = FakePackages(PAGE + 3)
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_a_version_on_a_later_page_is_found_by_digest_and_deleted_by_id(api) -> None:
    digest = f"sha256:{PAGE + 1:064x}"
    assert delete_version("acme/taxi/models/taxi_tips", digest, TOKEN, api.url) is True
    assert ("DELETE", f"{PACKAGE_PATH}/{9000 + PAGE + 1}") in api.calls
    assert digest not in [v["name"] for v in api.versions] and len(api.versions) == PAGE + 2
    # The organisation's endpoint was asked first and answered 404 (a user's package).
    assert api.calls[0][1].startswith("/orgs/acme/packages/container/taxi%2Fmodels%2Ftaxi_tips")


def test_an_unknown_digest_deletes_nothing(api) -> None:
    assert delete_version("acme/taxi/models/taxi_tips", "sha256:" + "f" * 64, TOKEN, api.url) is (
        False
    )
    assert not [c for c in api.calls if c[0] == "DELETE"]


def test_a_refusal_names_packages_write_and_the_admin_role() -> None:
    fake = FakePackages(2, refuse_delete=True)
    try:
        with pytest.raises(InfraError) as caught:
            delete_version("acme/taxi/models/taxi_tips", f"sha256:{1:064x}", TOKEN, fake.url)
        message = str(caught.value)
        assert caught.value.exit_code == 3
        assert "HTTP 403" in message and "`permissions: packages: write`" in message
        assert "Admin role" in message and '"Manage Actions access"' in message
        assert TOKEN not in message
        with pytest.raises(InfraError, match="HTTP 401"):
            delete_version("acme/taxi/models/taxi_tips", f"sha256:{1:064x}", "wrong", fake.url)
    finally:
        fake.server.shutdown()
        fake.server.server_close()


class _Answer:
    status_code = 405
    text = '{"errors":[{"code":"UNSUPPORTED"}]}'
    headers: ClassVar[dict[str, str]] = {}


@pytest.mark.parametrize("host", ["ghcr.io", "registry.example.com"])
def test_a_405_from_ghcr_goes_to_the_rest_api_and_elsewhere_names_the_setting(
    host: str, monkeypatch
) -> None:
    from store import ghcr_versions
    from store.oci import OciStore

    monkeypatch.setenv("MODEL_REGISTRY_USERNAME", "x-access-token")
    monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", "http://api.invalid")
    store = OciStore(f"oci://{host}/acme/taxi/models/taxi_tips")
    monkeypatch.setattr(store, "_request", lambda *args, **kwargs: _Answer())
    calls: list[tuple[str, ...]] = []

    def record(*args: str) -> bool:
        calls.append(args)
        return True

    monkeypatch.setattr(ghcr_versions, "delete_version", record)
    digest = "sha256:" + "a" * 64
    if host == "ghcr.io":
        assert store.delete(digest) is True
        assert calls == [("acme/taxi/models/taxi_tips", digest, TOKEN, "http://api.invalid")]
    else:
        with pytest.raises(InfraError, match="storage: delete: enabled: true"):
            store.delete(digest)
        assert calls == []
