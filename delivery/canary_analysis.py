"""Judge a candidate by its own TF Serving metrics, through Prometheus's HTTP API.

The queries are `delivery.analysis_queries`' strings, the ones the rendered AnalysisTemplate
holds, so a local run (`mlops analyze`) and Argo Rollouts in the cluster measure the same
thing. Too little traffic, or a query without data, is "inconclusive": never a pass.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from core.config import EnvironmentConfig
from core.errors import InfraError
from delivery.analysis_queries import Query, queries

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Measurement:
    query: Query
    value: float | None  # None: the query returned no sample (no series yet, or 0/0)

    @property
    def verdict(self) -> str:
        q, v = self.query, self.value
        if v is None or math.isnan(v):
            return INCONCLUSIVE
        if q.kind == "min":
            return PASS if v >= q.threshold else INCONCLUSIVE
        return PASS if v <= q.threshold else FAIL

    def line(self) -> str:
        q = self.query
        unit = f" {q.unit}" if q.unit else ""
        shown = "no data" if self.value is None else f"{_figure(self.value)}{unit}"
        bound = f"{'>=' if q.kind == 'min' else '<='} {_figure(q.threshold)}{unit}"
        return f"  {q.name:<14} {shown:<18} {bound:<16} {self.verdict}"


@dataclass(frozen=True)
class Analysis:
    env: str
    measurements: list[Measurement]

    @property
    def verdict(self) -> str:
        """Too little traffic makes everything else unreliable: inconclusive before fail."""
        verdicts = [m.verdict for m in self.measurements]
        if INCONCLUSIVE in verdicts:
            return INCONCLUSIVE
        return FAIL if FAIL in verdicts else PASS

    def reason(self) -> str:
        """One sentence a person can act on."""
        bad = [m for m in self.measurements if m.verdict == self.verdict]
        if self.verdict == PASS:
            return "the candidate is within every threshold; the rollout may proceed"
        if self.verdict == INCONCLUSIVE:
            names = ", ".join(
                f"{m.query.name} {'no data' if m.value is None else _figure(m.value)}" for m in bad
            )
            return (
                f"not enough evidence ({names}): send more traffic to the candidate or wait "
                f"a longer window; an inconclusive analysis never promotes"
            )
        parts = []
        for m in bad:
            unit = f" {m.query.unit}" if m.query.unit else ""
            parts.append(
                f"{m.query.name} {_figure(m.value or 0.0)}{unit} is above "
                f"{_figure(m.query.threshold)}{unit}"
            )
        return (
            f"the candidate's {'; '.join(parts)}: abort the rollout and roll the release "
            f"record back (`mlops rollback --env {self.env}`)"
        )

    def report(self, prometheus: str) -> str:
        lines = [f"Canary analysis of {self.env} (role=canary) from {prometheus}:"]
        lines += [m.line() for m in self.measurements]
        lines.append(f"verdict: {self.verdict}: {self.reason()}")
        return "\n".join(lines)


def _figure(x: float) -> str:
    return f"{x:.4g}"


def instant_query(prometheus: str, promql: str, timeout: float = 10.0) -> float | None:
    """The single value of an instant query; None when the result is empty."""
    url = prometheus.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise InfraError(
            f"--prometheus {prometheus}: HTTP {exc.code} for query {promql!r}: {detail}"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InfraError(
            f"--prometheus {prometheus}: no Prometheus answered ({reason}); check the URL "
            f"(e.g. http://127.0.0.1:9090) and that the server runs"
        ) from None
    if body.get("status") != "success":
        raise InfraError(f"--prometheus {prometheus}: query {promql!r} failed: {body.get('error')}")
    result = body.get("data", {}).get("result", [])
    if not result:
        return None
    if len(result) > 1:
        raise InfraError(
            f"--prometheus {prometheus}: query {promql!r} returned {len(result)} series, "
            f"expected one"
        )
    return float(result[0]["value"][1])


def analyze(cfg: EnvironmentConfig, prometheus: str) -> Analysis:
    """Measure every query of `cfg`'s AnalysisTemplate now."""
    return Analysis(
        cfg.name, [Measurement(q, instant_query(prometheus, q.promql)) for q in queries(cfg)]
    )
