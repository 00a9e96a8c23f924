"""A fake of GitHub's REST API for the prod preflight: environments, reviewers and branch
policies as a repository's settings would answer them."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REVIEWED = {
    "name": "production",
    "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    "protection_rules": [
        {"type": "wait_timer", "wait_timer": 0},
        {
            "type": "required_reviewers",
            "reviewers": [
                {"type": "Team", "reviewer": {"slug": "ml-release-approvers"}},
                {"type": "User", "reviewer": {"login": "octocat"}},
            ],
        },
    ],
}


class FakeGitHub:
    def __init__(
        self, environment: dict | None, token: str = "ghs_x", repository: str = "acme/taxi"
    ) -> None:
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.paths.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {token}":
                    code, body = 401, {"message": "Bad credentials"}
                elif (
                    self.path == f"/repos/{repository}/environments/production"
                    and environment is not None
                ):
                    code, body = 200, environment
                else:
                    code, body = 404, {"message": "Not Found"}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REPOSITORY": "acme/taxi",
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": "ghs_x",
            **extra,
        }
