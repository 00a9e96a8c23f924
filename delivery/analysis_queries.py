"""The canary analysis's PromQL, written once: the rendered AnalysisTemplate and `mlops analyze`
evaluate these same strings, so what a test proves against a real Prometheus is what Argo
Rollouts runs in the cluster.

TF Serving's metrics carry the model's name but no version, so each version runs in its own
pods and the queries pick the candidate by the `role` pod label (Argo Rollouts sets it through
canaryMetadata/stableMetadata; the PodMonitor copies it onto the series). Only successful
requests reach the latency histogram (util.cc), so errors and latency are separate metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.config import EnvironmentConfig

REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency_bucket"
CANDIDATE = "canary"  # the `role` label of the candidate's pods
STABLE = "stable"


@dataclass(frozen=True)
class Thresholds:
    """What the candidate must show within the window; `p99_ms` already defaulted."""

    max_error_ratio: float
    p99_ms: float
    min_requests: int
    window_seconds: int


@dataclass(frozen=True)
class Query:
    """One measured metric: its PromQL, and how its value is judged."""

    name: str  # the AnalysisTemplate metric's name, and what `mlops analyze` prints
    promql: str
    threshold: float
    # "max": the value must stay at or below threshold; "min": at or above (else inconclusive).
    kind: str
    unit: str


def thresholds(cfg: EnvironmentConfig) -> Thresholds:
    """The environment's analysis thresholds; the p99 ceiling is the load test's SLO unless
    rollout.analysis.p99_ms overrides it, so one latency promise covers both gates."""
    a = cfg.rollout.analysis
    return Thresholds(
        max_error_ratio=a.max_error_ratio,
        p99_ms=a.p99_ms if a.p99_ms is not None else cfg.loadtest.slo.p99_ms,
        min_requests=a.min_requests,
        window_seconds=a.window_seconds,
    )


def selector(cfg: EnvironmentConfig, role: str = CANDIDATE, extra: str = "") -> str:
    labels = [
        f'model_name="{cfg.model_name}"',
        f'namespace="{cfg.deploy.namespace}"',
        f'role="{role}"',
    ]
    return "{" + ",".join(labels + ([extra] if extra else [])) + "}"


def queries(cfg: EnvironmentConfig) -> list[Query]:
    """The three measurements, in the order a person reads them: enough traffic, then errors,
    then latency."""
    t = thresholds(cfg)
    w = f"[{t.window_seconds}s]"
    every = selector(cfg)
    failed = selector(cfg, extra='status!="OK"')
    return [
        Query(
            "request-count",
            f"sum(increase({REQUEST_COUNT}{every}{w}))",
            t.min_requests,
            "min",
            "requests",
        ),
        Query(
            "error-ratio",
            # `or vector(0)`: with no failed series at all the ratio is 0, not "no data".
            f"(sum(rate({REQUEST_COUNT}{failed}{w})) or vector(0))"
            f" / sum(rate({REQUEST_COUNT}{every}{w}))",
            t.max_error_ratio,
            "max",
            "",
        ),
        Query(
            "latency-p99",
            f"histogram_quantile(0.99, sum by (le) (rate({REQUEST_LATENCY}{every}{w}))) / 1000",
            t.p99_ms,
            "max",
            "ms",
        ),
    ]
