"""Deleting a version of a GHCR package through GitHub's REST API.

GHCR answers the registry API's manifest DELETE with HTTP 405 ("The operation is unsupported",
as public reports show, e.g. containers/skopeo issue 1880). GitHub deletes package versions
through `DELETE /orgs/{org}/packages/container/{package}/versions/{id}` (or `/users/{user}/...`),
where a container version's `name` is its manifest digest. So `mlops gc` on ghcr.io finds the
version by digest and deletes it by id, with the token the store logs in with.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from core.errors import InfraError

PAGE = 100
TIMEOUT = 30


def _call(method: str, url: str, token: str) -> tuple[int, object]:
    request = urllib.request.Request(
        url,
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError) as exc:
        raise InfraError(
            f"cannot reach GitHub's API at {url.split('/', 3)[2]} ({type(exc).__name__}) to "
            f"delete a package version; check GITHUB_API_URL and the network"
        ) from None


def _refused(status: int, package: str) -> InfraError:
    return InfraError(
        f"GitHub's API refused to delete a version of the container package {package} "
        f"(HTTP {status}): give the job `permissions: packages: write` and pass "
        f"`GITHUB_TOKEN: ${{{{ github.token }}}}` to the step, and give this repository the "
        f'Admin role in the package\'s settings, "Manage Actions access"'
    )


def delete_version(repository: str, digest: str, token: str, api_url: str) -> bool:
    """Delete the version of GHCR package `repository` (OWNER/PACKAGE...) named `digest`;
    False when no version has that digest (already deleted)."""
    owner, _, package = repository.partition("/")
    if not package:
        raise InfraError(f"{repository!r} is not OWNER/PACKAGE; cannot name a GHCR package")
    encoded = urllib.parse.quote(package, safe="")
    for kind in ("orgs", "users"):
        base = f"{api_url.rstrip('/')}/{kind}/{owner}/packages/container/{encoded}/versions"
        page = 1
        while True:
            status, body = _call("GET", f"{base}?per_page={PAGE}&page={page}", token)
            if status == 404 and page == 1:
                break  # not an organisation's (or no such package): try the user's
            if status in (401, 403):
                raise _refused(status, package)
            if status != 200 or not isinstance(body, list):
                raise InfraError(
                    f"GitHub's API answered HTTP {status} listing versions of {package}"
                )
            for version in body:
                if isinstance(version, dict) and version.get("name") == digest:
                    gone, _ = _call("DELETE", f"{base}/{version['id']}", token)
                    if gone in (401, 403):
                        raise _refused(gone, package)
                    if gone not in (204, 404):
                        raise InfraError(
                            f"GitHub's API answered HTTP {gone} deleting {package}@{digest}"
                        )
                    return gone == 204
            if len(body) < PAGE:
                return False
            page += 1
    return False
