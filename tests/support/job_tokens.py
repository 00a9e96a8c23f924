"""Job tokens as GitHub mints them, for the replay: each job's GITHUB_TOKEN carries exactly the
permissions its `permissions:` declares, and both the registry and the fake GitHub API refuse
what they do not grant.

- Effective permissions: the job's `permissions:`, else the workflow's, else GitHub's restricted
  default (contents and packages read). A job of a called workflow never gets more than the
  calling job holds, scope by scope. `read-all` / `write-all` / `{}` are understood.
- The registry (tests/support/token_registry.py) grants the token's `packages:` level over the
  repository's own namespace, as GHCR does for packages linked to the repository.
- The fake GitHub API needs, per endpoint, the permission GitHub's REST reference lists for it
  (`API_PERMISSIONS`); an endpoint missing from the table is refused, so a new call cannot slip
  through unchecked. `metadata: read` is part of every token; `administration` never is (a
  GITHUB_TOKEN cannot hold it).
- A token stops working when its job ends.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_http import FakeHttp, Request
from tests.support.token_registry import TokenService

LEVEL = {"none": 0, "read": 1, "write": 2}
SCOPES = (
    "actions",
    "checks",
    "contents",
    "deployments",
    "id-token",
    "issues",
    "packages",
    "pages",
    "pull-requests",
    "statuses",
)
# A job that declares nothing anywhere: the "restricted" default of new repositories.
DEFAULT = {"contents": "read", "packages": "read"}
_REPO = r"^/repos/[^/]+/[^/]+"
API_PERMISSIONS: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(_REPO + r"/environments(/|$)"), "actions", "read"),
    (re.compile(_REPO + r"/rules/branches/"), "metadata", "read"),
    (re.compile(_REPO + r"/rulesets(/|$|\?)"), "metadata", "read"),
    (re.compile(_REPO + r"/branches/[^/]+/protection"), "administration", "read"),
    (re.compile(_REPO + r"/pulls(/|$|\?)"), "pull-requests", "read"),
    (re.compile(_REPO + r"/actions/"), "actions", "read"),
    (re.compile(_REPO + r"/contents/"), "contents", "read"),
]


def effective(declared: Any) -> dict[str, str]:
    """A `permissions:` value as the scopes it grants (absent scopes: none)."""
    if declared is None:
        return dict(DEFAULT)
    if declared == "read-all":
        return dict.fromkeys(SCOPES, "read")
    if declared == "write-all":
        return dict.fromkeys(SCOPES, "write")
    if not isinstance(declared, dict):
        raise ValueError(f"permissions: {declared!r} is not replayed")
    unknown = set(declared) - set(SCOPES)
    if unknown:
        raise ValueError(f"permissions: scopes not replayed: {sorted(unknown)}")
    return {k: str(v) for k, v in declared.items() if str(v) != "none"}


def bounded(permissions: dict[str, str], bound: dict[str, str] | None) -> dict[str, str]:
    """`permissions`, never above `bound` (the calling job's) in any scope."""
    if bound is None:
        return dict(permissions)
    out = {}
    for scope, level in permissions.items():
        top = bound.get(scope, "none")
        kept = level if LEVEL[level] <= LEVEL[top] else top
        if kept != "none":
            out[scope] = kept
    return out


@dataclass
class JobTokens:
    """Mints and revokes the replay's job tokens; wires the registry and the fake API to them."""

    repository: str
    registry: TokenService | None = None
    issued: dict[str, dict[str, str]] = field(default_factory=dict)  # token -> permissions
    minted: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # job, permissions

    def mint(self, job: str, permissions: dict[str, str]) -> str:
        token = "ghs_" + secrets.token_hex(18)
        self.issued[token] = dict(permissions)
        self.minted.append((job, dict(permissions)))
        packages = permissions.get("packages", "none")
        if self.registry is not None and packages in ("read", "write"):
            self.registry.grant(token, packages, self.repository)
        return token

    def revoke(self, token: str) -> None:
        self.issued.pop(token, None)
        if self.registry is not None:
            self.registry.revoke(token)

    def holds(self, token: str, scope: str, level: str) -> bool:
        if token not in self.issued:
            return False
        if scope == "metadata":
            return True
        return LEVEL[self.issued[token].get(scope, "none")] >= LEVEL[level]

    def guard(self, api: FakeHttp) -> None:
        """Make `api` accept only live job tokens holding each endpoint's permission."""
        api.authorize = self._authorize

    def _authorize(self, header: str, request: Request) -> tuple[int, Any] | None:
        token = header.removeprefix("Bearer ").removeprefix("token ")
        if token not in self.issued:
            return 401, {"message": "Bad credentials"}
        for pattern, scope, level in API_PERMISSIONS:
            if pattern.match(request.path):
                if self.holds(token, scope, level):
                    return None
                return 403, {
                    "message": "Resource not accessible by integration",
                    "needs": f"{scope}: {level}",
                }
        return 403, {
            "message": f"the replay does not know which permission {request.path} needs: "
            f"add it to tests/support/job_tokens.py API_PERMISSIONS"
        }
