"""The repository URL Argo CD reads: `deploy.repo_url` if set, else the Git remote `origin`.

A fork must not deploy from the template's placeholder, and Argo CD fetches over https, so the
remote (https, ssh or scp-like `git@host:org/repo`) is normalised to
`https://host/org/repo.git`, without credentials. A checkout without a usable remote (none, or
a local path) has no URL: the caller renders nothing for Argo CD and says what to set.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import ConfigError

PLACEHOLDER = "YOUR_ORG"
WHAT_TO_SET = (
    "set deploy.repo_url in environments/base/config.yaml to the repository's https URL "
    "(e.g. https://github.com/ORG/REPO.git), or add the remote: git remote add origin URL"
)
_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


def normalise(url: str) -> str | None:
    """`https://host/org/repo.git` for a hosted remote; None for a local path or file://."""
    url = url.strip()
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh") or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    elif match := _SCP.match(url):
        host, path = match["host"], match["path"]
    else:
        return None
    path = path.strip("/").removesuffix(".git").strip("/")
    if path.count("/") < 1 or not all(path.split("/")):
        return None
    return f"https://{host}/{path}.git"


def origin(repo: Path) -> str | None:
    """The normalised URL of the remote `origin` of the Git checkout holding `repo`."""
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return normalise(result.stdout) if result.returncode == 0 else None


def resolve(configured: str, repo: Path, where: str = "config") -> str | None:
    """deploy.repo_url when set (it must be a real https URL), else origin's, else None.
    `where` names the config that set it, for the message."""
    if not configured:
        return origin(repo)
    if PLACEHOLDER in configured or not configured.startswith("https://"):
        raise ConfigError(
            f"{where}: deploy.repo_url: {configured!r} is not the https URL of your repository; "
            f"{WHAT_TO_SET}, or leave deploy.repo_url empty to use origin's"
        )
    url = normalise(configured)
    if url is None:
        raise ConfigError(
            f"{where}: deploy.repo_url: {configured!r} has no ORG/REPO path; expected "
            f"https://HOST/ORG/REPO.git"
        )
    return url
