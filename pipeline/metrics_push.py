"""Deliver Prometheus text to a Pushgateway: one HTTP PUT of the text exposition format.

A PUT replaces every series of its group (job plus grouping labels), so a feature that no
longer drifts, or a window too small to measure, clears what the previous push said instead of
leaving it firing. The group is keyed by the environment and the model, so one environment's
push never replaces another's. Prometheus scrapes the Pushgateway with `honor_labels: true`,
which keeps the pushed `job` label (and the empty `instance` the Pushgateway adds) instead of
its own scrape job's.

Any failure (no answer, a refused connection, a status other than 2xx, a timeout) is an
InfraError naming the config key, the URL and what came back: a push that did not land must
not pass as one that did, or the alert would silently read stale figures.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request

from core.errors import InfraError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_.~-]+$")


def group_url(base: str, job: str, labels: dict[str, str]) -> str:
    """The group's URL: <base>/metrics/job/<job>/<label>/<value>..., a value that is empty or
    not a plain path segment in the Pushgateway's base64url form (<label>@base64/<value>)."""
    parts = ["metrics", *_segment("job", job)]
    for name, value in labels.items():
        parts += _segment(name, value)
    return base.rstrip("/") + "/" + "/".join(parts)


def _segment(name: str, value: str) -> list[str]:
    if _PLAIN_SEGMENT.match(value):
        return [name, value]
    encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return [f"{name}@base64", encoded]


def push(
    text: str,
    *,
    base: str,
    job: str,
    labels: dict[str, str],
    timeout: float,
    key: str,
    figures: str,
) -> str:
    """PUT `text` to the group; returns the group's URL. `key` names the config key the URL
    came from and `figures` the local copy, for the error message."""
    url = group_url(base, job, labels)
    request = urllib.request.Request(
        url, data=text.encode(), method="PUT", headers={"Content-Type": CONTENT_TYPE}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
            body = response.read(500).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status = exc.code
        body = exc.read(500).decode(errors="replace")
    except (urllib.error.URLError, OSError) as exc:  # refused, unresolvable, timed out
        reason = getattr(exc, "reason", exc)
        raise InfraError(
            f"{key} {base!r}: the push to {url} failed ({reason}); nothing was pushed, the "
            f'figures are in {figures}. Start or reach the Pushgateway, or set {key}: "" '
            "to only write them locally"
        ) from None
    if not 200 <= status < 300:
        raise InfraError(
            f"{key} {base!r}: the Pushgateway refused the push to {url}: HTTP {status} "
            f"{body.strip()[:300]!r}; the figures are in {figures}"
        )
    return url
