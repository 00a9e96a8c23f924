"""Manifests of a shadow or canary environment: what Argo Rollouts and the Gateway API need.

`delivery.manifests` renders the plain Deployment; for `rollout.strategy` shadow or canary this
module turns it into an Argo Rollouts `Rollout` (the same pod template, pinned to one model
digest), and adds stable and canary Services, an HTTPRoute that Rollouts' gatewayAPI plugin
re-weights (100/0 in Git), an AnalysisTemplate with `delivery.analysis_queries`' PromQL, and a
PodMonitor that carries the pods' `role` label onto TF Serving's series, which have no version.
"""

from __future__ import annotations

import math
from typing import Any

import yaml

from core.config import EnvironmentConfig
from core.ports import REST_PORT
from delivery import analysis_queries

HEADER = "# Rendered from environments/{env}/ by `mlops render`; do not edit by hand.\n"
ROLLOUTS_PLUGIN = "argoproj-labs/gatewayAPI"
ROLE = "role"  # the pod label telling the two versions apart (canaryMetadata/stableMetadata)
POD_TEMPLATE_HASH = "rollouts-pod-template-hash"


def stable_service(app: str) -> str:
    return f"{app}-stable"


def canary_service(app: str) -> str:
    return f"{app}-canary"


def analysis_template(app: str) -> str:
    return f"{app}-analysis"


def _dump(cfg: EnvironmentConfig, doc: dict[str, Any], note: str = "") -> str:
    comment = "".join(f"# {line}\n" for line in note.splitlines())
    return HEADER.format(env=cfg.name) + comment + yaml.safe_dump(doc, sort_keys=False, width=100)


def _steps(cfg: EnvironmentConfig, app: str) -> list[dict[str, Any]]:
    r = cfg.rollout
    if r.strategy == "shadow":
        # The candidate gets pods but no weight; the route mirrors a share of requests to it.
        # The inline analysis must pass before the Rollout promotes it.
        return [
            {"setCanaryScale": {"replicas": 1}},
            {"analysis": {"templates": [{"templateName": analysis_template(app)}]}},
        ]
    steps: list[dict[str, Any]] = []
    for step in r.steps:
        if step.set_weight is not None:
            steps.append({"setWeight": step.set_weight})
        elif step.pause_seconds:
            steps.append({"pause": {"duration": f"{step.pause_seconds}s"}})
        else:
            steps.append({"pause": {}})  # until a person promotes
    return steps


def rollout(cfg: EnvironmentConfig, deployment: dict[str, Any], app: str) -> dict[str, Any]:
    """The Deployment's pods under a Rollout with the environment's strategy."""
    canary: dict[str, Any] = {
        "stableService": stable_service(app),
        "canaryService": canary_service(app),
        "stableMetadata": {"labels": {ROLE: analysis_queries.STABLE}},
        "canaryMetadata": {"labels": {ROLE: analysis_queries.CANDIDATE}},
        "trafficRouting": {
            "plugins": {ROLLOUTS_PLUGIN: {"httpRoute": app, "namespace": cfg.deploy.namespace}}
        },
        "steps": _steps(cfg, app),
    }
    if cfg.rollout.strategy == "canary":
        # Background analysis from the first step on: a failed measurement beyond
        # failure_limit aborts, and the weights return to the stable pods.
        canary["analysis"] = {
            "templates": [{"templateName": analysis_template(app)}],
            "startingStep": 1,
        }
    spec = {
        "selector": deployment["spec"]["selector"],
        "template": deployment["spec"]["template"],
        "strategy": {"canary": canary},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": deployment["metadata"],
        "spec": spec,
    }


def services(cfg: EnvironmentConfig, service: dict[str, Any], app: str) -> list[dict[str, Any]]:
    """Copies of the environment's Service that Rollouts narrows to the stable and canary
    pods (it adds the pod template hash to their selectors)."""
    out = []
    for name in (stable_service(app), canary_service(app)):
        doc = yaml.safe_load(yaml.safe_dump(service))
        doc["metadata"]["name"] = name
        out.append(doc)
    return out


def http_route(cfg: EnvironmentConfig, app: str, labels: dict[str, str]) -> dict[str, Any]:
    r = cfg.rollout
    parent: dict[str, Any] = {"name": r.gateway}
    if r.gateway_namespace:
        parent["namespace"] = r.gateway_namespace
    rule: dict[str, Any] = {
        "backendRefs": [
            {"name": stable_service(app), "port": REST_PORT, "weight": 100},
            {"name": canary_service(app), "port": REST_PORT, "weight": 0},
        ]
    }
    if r.strategy == "shadow":
        rule["filters"] = [
            {
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": {"name": canary_service(app), "port": REST_PORT},
                    "percent": r.mirror_percent,
                },
            }
        ]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": app, "namespace": cfg.deploy.namespace, "labels": labels},
        "spec": {"parentRefs": [parent], "rules": [rule]},
    }


def _conditions(q: analysis_queries.Query) -> tuple[str, str]:
    """(successCondition, failureCondition); neither true is inconclusive, as `mlops analyze`
    judges: no sample or NaN, or too few requests."""
    has = "len(result) > 0 && !isNaN(result[0])"
    if q.kind == "min":
        return f"{has} && result[0] >= {q.threshold:g}", "false"
    return f"{has} && result[0] <= {q.threshold:g}", f"{has} && result[0] > {q.threshold:g}"


def template(cfg: EnvironmentConfig, app: str, labels: dict[str, str]) -> dict[str, Any]:
    a = cfg.rollout.analysis
    metrics = []
    for q in analysis_queries.queries(cfg):
        success, failure = _conditions(q)
        metric: dict[str, Any] = {
            "name": q.name,
            "interval": f"{a.interval_seconds}s",
            "successCondition": success,
            "failureCondition": failure,
            "failureLimit": a.failure_limit,
            "inconclusiveLimit": a.inconclusive_limit,
            "provider": {"prometheus": {"address": a.prometheus_address, "query": q.promql}},
        }
        if cfg.rollout.strategy == "shadow":  # an inline step must end: one window's worth
            metric["count"] = max(3, math.ceil(a.window_seconds / a.interval_seconds))
        metrics.append(metric)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {
            "name": analysis_template(app),
            "namespace": cfg.deploy.namespace,
            "labels": labels,
        },
        "spec": {"metrics": metrics},
    }


def pod_monitor(cfg: EnvironmentConfig, app: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": app, "namespace": cfg.deploy.namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "podTargetLabels": [ROLE, POD_TEMPLATE_HASH],
            # TF Serving answers `text/plain` without a version: Prometheus 3 refuses such a
            # scrape unless told which format to assume.
            "fallbackScrapeProtocol": "PrometheusText0.0.4",
            "podMetricsEndpoints": [
                {"port": "http", "path": cfg.serving.monitoring_path, "interval": "15s"}
            ],
        },
    }


def render(cfg: EnvironmentConfig, app: str, files: dict[str, str]) -> dict[str, str]:
    """`files` (the plain render) with the Deployment replaced and the rollout kinds added."""
    deployment = yaml.safe_load(files.pop("deployment.yaml"))
    labels = dict(deployment["metadata"]["labels"])
    hpa = yaml.safe_load(files["hpa.yaml"])
    hpa["spec"]["scaleTargetRef"] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "name": app,
    }
    service = yaml.safe_load(files["service.yaml"])
    stable, canary = services(cfg, service, app)
    strategy = cfg.rollout.strategy
    digest = deployment["metadata"]["annotations"]["mlops.template/model-digest"]
    files.update(
        {
            "rollout.yaml": _dump(
                cfg,
                rollout(cfg, deployment, app),
                f"rollout.strategy {strategy}: Argo Rollouts replaces the Deployment; the pods "
                f"stay pinned to model digest {digest}.",
            ),
            "hpa.yaml": _dump(cfg, hpa, "Scales the Rollout between deploy.replicas and max."),
            "service-stable.yaml": _dump(cfg, stable),
            "service-canary.yaml": _dump(cfg, canary),
            "httproute.yaml": _dump(
                cfg,
                http_route(cfg, app, labels),
                "Weights 100/0 in Git; Argo Rollouts moves them during a rollout (Argo CD "
                "ignores the difference).",
            ),
            "analysistemplate.yaml": _dump(
                cfg,
                template(cfg, app, labels),
                "The same queries as `mlops analyze --env " + cfg.name + "`.",
            ),
            "podmonitor.yaml": _dump(cfg, pod_monitor(cfg, app, labels)),
        }
    )
    return files
