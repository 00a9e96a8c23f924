"""A JSON HTTP server on loopback that a test scripts: the fakes of Argo CD's and GitHub's REST
APIs are each one answer function over it, so the server, its thread, the bearer-token check
and the request log exist once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing_extensions import Self
from urllib.parse import parse_qs, urlparse


@dataclass(frozen=True)
class Request:
    """One GET as the fake saw it."""

    target: str  # as sent: path and query
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)


Answer = Callable[[Request], tuple[int, Any]]  # -> (status, JSON body)


class FakeHttp:
    """Answers every GET with `answer(request)`, after the bearer-token check when `token` is set
    (a wrong or missing token gets 401 with `refused` as the body). Every request is logged in
    `requests`, refused ones included, before it is answered."""

    def __init__(self, answer: Answer, token: str | None = None, refused: Any = None) -> None:
        self.requests: list[Request] = []
        # Set to check each request's Authorization header itself (replayed job tokens): a
        # refusal as (status, body), or None to pass; it replaces the single-token check.
        self.authorize: Callable[[str, Request], tuple[int, Any] | None] | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                request = Request(self.path, url.path, parse_qs(url.query))
                fake.requests.append(request)
                header = self.headers.get("Authorization", "")
                refusal: tuple[int, Any] | None = None
                if fake.authorize is not None:
                    refusal = fake.authorize(header, request)
                elif token is not None and header != f"Bearer {token}":
                    refusal = 401, refused
                code, body = refusal if refusal is not None else answer(request)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop answering; the port refuses connections from here on."""
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
