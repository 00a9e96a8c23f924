"""One GET against GitHub's REST API for the prod preflight (standard library only: the preflight
runs before any dependency is installed).

403 and 404 come back as answers, because on GitHub they carry meaning (a plan without the
feature, a setting never made); anything else that is not 200 cannot be judged and is an
infrastructure error.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from delivery.gate_errors import Unreachable

MEANINGFUL = (403, 404)


def get(api: str, path: str, token: str) -> tuple[int, Any]:
    """(status, JSON body) of `GET {api}{path}`; 200, 403 or 404, else `Unreachable`."""
    url = f"{api.rstrip('/')}{path}"
    request = urllib.request.Request(
        url,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        if exc.code in MEANINGFUL:
            try:
                body = json.loads(exc.read() or b"null")
            except ValueError:
                body = None
            return exc.code, body
        raise Unreachable(f"GitHub API {url}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise Unreachable(f"GitHub API {url} unreachable: {getattr(exc, 'reason', exc)}") from None
    except ValueError:
        raise Unreachable(f"GitHub API {url}: the answer is not JSON") from None
