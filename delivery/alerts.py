"""Alerts as code: the PrometheusRule each environment runs, rendered from its config.

Recording rules turn TF Serving's raw series (no version label, no `_total` suffix, latency in
microseconds, successes only) into the request rate, error ratio and latency quantiles the alerts
and the dashboard read. The thresholds come from the same places the gates read: the error ratio
from monitoring.alerts, p99 from loadtest.slo.p99_ms, serving drift from models/schema/drift.yaml
(exported per feature by `mlops monitor`, threshold beside value). Each alert carries a `runbook`
line that says what to do first, and a link to its section of docs/monitoring.md.
"""

from __future__ import annotations

from typing import Any

import yaml

from core.config import EnvironmentConfig
from pipeline.serving_drift import DRIFT, DRIFT_THRESHOLD, RELEASE_INFO  # `mlops monitor`'s

__all__ = ["DRIFT", "DRIFT_THRESHOLD", "RELEASE_INFO", "render", "rule_groups"]

REQUESTS = ":tensorflow:serving:request_count"
LATENCY_BUCKET = ":tensorflow:serving:request_latency_bucket"
# Available pods: kube-state-metrics' series for a Deployment; Argo Rollouts' controller
# publishes its own for a Rollout (shadow and canary environments), which has no Deployment.
AVAILABLE_REPLICAS = "kube_deployment_status_replicas_available"
ROLLOUT_AVAILABLE_REPLICAS = "rollout_info_replicas_available"
QUANTILES = (0.5, 0.95, 0.99)
KIND = "prometheusrule"


def record_names(window_minutes: int) -> dict[str, str]:
    """The recording rules' names (level:metric:operations), keyed by what they hold."""
    w = f"{window_minutes}m"
    names = {
        "requests": f"model_name:tfserving_requests:rate{w}",
        "errors": f"model_name:tfserving_request_errors:rate{w}",
        "error_ratio": f"model_name:tfserving_request_error_ratio:rate{w}",
    }
    for q in QUANTILES:
        names[f"p{round(q * 100)}"] = (
            f"model_name:tfserving_request_latency_seconds:p{round(q * 100)}_{w}"
        )
    return names


def _selector(cfg: EnvironmentConfig, extra: str = "") -> str:
    labels = f'namespace="{cfg.deploy.namespace}",model_name="{cfg.model_name}"'
    return "{" + labels + (f",{extra}" if extra else "") + "}"


def _drift_selector(cfg: EnvironmentConfig) -> str:
    return f'{{environment="{cfg.name}",model_name="{cfg.model_name}"}}'


def recording_rules(cfg: EnvironmentConfig) -> list[dict[str, Any]]:
    a = cfg.monitoring.alerts
    names = record_names(a.window_minutes)
    w = f"{a.window_minutes}m"
    by = "sum by (namespace, model_name)"
    failed = _selector(cfg, 'status!="OK"')
    rules = [
        {"record": names["requests"], "expr": f"{by} (rate({REQUESTS}{_selector(cfg)}[{w}]))"},
        {
            "record": names["errors"],
            "expr": f"{by} (rate({REQUESTS}{failed}[{w}]))",
        },
        {
            # No errors recorded: no series, so the alert stays quiet; all failing: ratio 1.
            "record": names["error_ratio"],
            "expr": f"{names['errors']} / {names['requests']}",
        },
    ]
    for q in QUANTILES:
        rules.append(
            {
                "record": names[f"p{round(q * 100)}"],
                "expr": f"histogram_quantile({q}, sum by (namespace, model_name, le) "
                f"(rate({LATENCY_BUCKET}{_selector(cfg)}[{w}]))) / 1e6",
            }
        )
    return rules


def _alert(
    cfg: EnvironmentConfig,
    name: str,
    expr: str,
    for_minutes: int,
    severity: str,
    summary: str,
    runbook: str,
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": f"{for_minutes}m",
        "labels": {"severity": severity, "environment": cfg.name},
        "annotations": {
            "summary": summary,
            "runbook": runbook,
            "runbook_url": f"{cfg.monitoring.alerts.runbook_url}#{name.lower()}",
        },
    }


def available_replicas(cfg: EnvironmentConfig, app: str) -> str:
    """The series counting the environment's available pods: the workload kind it renders
    decides which exporter has it (a Rollout is no Deployment to kube-state-metrics)."""
    ns = cfg.deploy.namespace
    if cfg.rollout.strategy == "none":
        return f'{AVAILABLE_REPLICAS}{{namespace="{ns}",deployment="{app}"}}'
    return f'{ROLLOUT_AVAILABLE_REPLICAS}{{namespace="{ns}",name="{app}"}}'


def alerting_rules(cfg: EnvironmentConfig, app: str, version: str) -> list[dict[str, Any]]:
    a = cfg.monitoring.alerts
    names = record_names(a.window_minutes)
    sel = _selector(cfg)
    p99_seconds = cfg.loadtest.slo.p99_ms / 1000
    available = available_replicas(cfg, app)
    model = f"{cfg.model_name} in {cfg.name}"
    return [
        _alert(
            cfg,
            "TFServingErrorRatioHigh",
            f"{names['error_ratio']}{sel} > {a.error_ratio_slo}",
            a.for_minutes,
            "critical",
            f"{model}: more than {a.error_ratio_slo:.2%} of requests fail "
            f"(over {a.window_minutes}m, monitoring.alerts.error_ratio_slo)",
            "Read the status label on the dashboard's error panel: INVALID_ARGUMENT means "
            "clients send rows the model does not take; other codes mean the server: roll "
            "back with `mlops rollback`.",
        ),
        _alert(
            cfg,
            "TFServingLatencyP99High",
            f"{names['p99']}{sel} > {p99_seconds:g}",
            a.for_minutes,
            "warning",
            f"{model}: p99 latency above the load-test SLO of {cfg.loadtest.slo.p99_ms:g} ms "
            "(loadtest.slo.p99_ms)",
            "Compare the request rate with the load test's and the batch sizes: scale out "
            "(deploy.max_replicas) or tune serving.batching.",
        ),
        _alert(
            cfg,
            "TFServingReleaseNotAvailable",
            f"(sum({available}) or vector(0)) < 1",
            a.for_minutes,
            "critical",
            f"{model}: no pod reports the released version {version} AVAILABLE "
            "(the readiness probe requires it)",
            "`kubectl describe` the pods: a failed model pull or load keeps them unready; "
            "`mlops status` names the release, `mlops rollback` returns to the previous one.",
        ),
        _alert(
            cfg,
            "TFServingNoTraffic",
            f"(sum(increase({REQUESTS}{sel}[{a.no_traffic_minutes}m])) or vector(0)) == 0",
            0,
            "warning",
            f"{model}: no request reached TF Serving for {a.no_traffic_minutes}m "
            "(monitoring.alerts.no_traffic_minutes)",
            "Check the Service, the gateway route and the clients: the model may be fine "
            "but unreachable.",
        ),
        _alert(
            cfg,
            "ServingDriftHigh",
            f"{DRIFT}{_drift_selector(cfg)} > {DRIFT_THRESHOLD}{_drift_selector(cfg)}",
            0,
            "warning",
            f"{model}: live requests drifted from the training data on "
            "{{ $labels.feature }} ({{ $labels.measure }}, models/schema/drift.yaml)",
            "Read the monitor report (`mlops monitor`): if the world changed, retrain "
            "(`mlops ct check` names serving drift as its reason); if a client broke, fix it.",
        ),
    ]


def rule_groups(cfg: EnvironmentConfig, app: str, version: str) -> list[dict[str, Any]]:
    """What promtool reads as a rules file, and what the PrometheusRule's spec holds."""
    return [
        {"name": f"{app}.{cfg.name}.recording", "rules": recording_rules(cfg)},
        {"name": f"{app}.{cfg.name}.alerts", "rules": alerting_rules(cfg, app, version)},
    ]


def render(cfg: EnvironmentConfig, app: str, version: str, labels: dict[str, str]) -> str:
    """The PrometheusRule manifest (prometheus-operator's monitoring.coreos.com/v1)."""
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{app}-alerts",
            "namespace": cfg.deploy.namespace,
            "labels": labels,
        },
        "spec": {"groups": rule_groups(cfg, app, version)},
    }
    header = (
        f"# Rendered from environments/{cfg.name}/ by `mlops render`; do not edit by hand.\n"
        "# Alerts and their runbooks: docs/monitoring.md.\n"
    )
    return header + yaml.safe_dump(doc, sort_keys=False, width=100)
