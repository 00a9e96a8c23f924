"""Alerts as code: every rendered rule parses, and every alert fires on the series that should
fire it and stays quiet on healthy ones, in Prometheus's own rule unit tests (promtool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from core import config
from core.config import EnvironmentConfig
from core.paths import REPO_ROOT
from delivery import alerts, manifests
from delivery.manifests import app_name
from tests.support import promtool
from tests.support.repo import update_overlay

ENVS = ["dev", "staging", "prod"]
VERSION = "1700000000"
SAMPLES = 40  # one a minute: long enough for every `for:` and window


def _groups(cfg: EnvironmentConfig) -> list[dict[str, Any]]:
    return alerts.rule_groups(cfg, app_name(cfg), VERSION)


def _alert(cfg: EnvironmentConfig, name: str) -> dict[str, Any]:
    return next(r for g in _groups(cfg) for r in g["rules"] if r.get("alert") == name)


def _serving(cfg: EnvironmentConfig, **extra: str) -> str:
    labels = {"namespace": cfg.deploy.namespace, "model_name": cfg.model_name, **extra}
    return ",".join(f'{k}="{v}"' for k, v in labels.items())


def _counter(per_minute: float) -> str:
    return f"0+{per_minute:g}x{SAMPLES}"


def _case(
    cfg: EnvironmentConfig,
    name: str,
    series: list[tuple[str, str]],
    fires: bool,
    extra_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One promtool test: the series, then the alert (with its labels and annotations) or none."""
    rule = _alert(cfg, name)
    expected: list[dict[str, Any]] = []
    if fires:
        labels = {**(extra_labels or {}), **rule["labels"]}
        annotations = dict(rule["annotations"])
        for key, value in labels.items():  # the only templates the rules use
            annotations = {
                k: v.replace(f"{{{{ $labels.{key} }}}}", value) for k, v in annotations.items()
            }
        expected = [{"exp_labels": labels, "exp_annotations": annotations}]
    return {
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [
            {"eval_time": f"{SAMPLES - 5}m", "alertname": name, "exp_alerts": expected}
        ],
    }


def _latency(cfg: EnvironmentConfig, slow: bool) -> list[tuple[str, str]]:
    """Histogram buckets (µs) with every request below half the SLO, or above it."""
    slo_us = cfg.loadtest.slo.p99_ms * 1000
    edges = [f"{slo_us / 2:g}", f"{slo_us * 4:g}", "+Inf"]
    fast = [_counter(600), _counter(600), _counter(600)]
    slow_counts = [_counter(0), _counter(600), _counter(600)]
    name = alerts.LATENCY_BUCKET
    series = []
    for edge, values in zip(edges, slow_counts if slow else fast, strict=True):
        labels = _serving(cfg, API="predict", entrypoint="REST", le=edge)
        series.append((f"{name}{{{labels}}}", values))
    return series


def _cases(cfg: EnvironmentConfig) -> list[dict[str, Any]]:
    ok = (f"{alerts.REQUESTS}{{{_serving(cfg, status='OK')}}}", _counter(600))
    failing_share = cfg.monitoring.alerts.error_ratio_slo * 3 or 0.5
    failed = f"{alerts.REQUESTS}{{{_serving(cfg, status='INVALID_ARGUMENT')}}}"
    serving_labels = {"namespace": cfg.deploy.namespace, "model_name": cfg.model_name}
    # Written out here, not taken from delivery.alerts: a Deployment's pods are counted by
    # kube-state-metrics, a Rollout's (shadow, canary) by the Argo Rollouts controller.
    ns, app = cfg.deploy.namespace, app_name(cfg)
    if cfg.rollout.strategy == "none":
        ready = f'kube_deployment_status_replicas_available{{namespace="{ns}",deployment="{app}"}}'
    else:
        ready = f'rollout_info_replicas_available{{namespace="{ns}",name="{app}"}}'
    drift = {
        "environment": cfg.name,
        "model_name": cfg.model_name,
        "feature": "fare",
        "measure": "jensen_shannon",
    }
    drift_labels = ",".join(f'{k}="{v}"' for k, v in drift.items())
    return [
        _case(
            cfg,
            "TFServingErrorRatioHigh",
            [ok, (failed, _counter(600 * failing_share))],
            True,
            serving_labels,
        ),
        _case(
            cfg,
            "TFServingErrorRatioHigh",
            [ok, (failed, _counter(600 * failing_share / 10))],
            False,
        ),
        _case(cfg, "TFServingErrorRatioHigh", [ok], False),  # no failure ever recorded
        # Every request failing: no OK series at all, still a ratio of 1.
        _case(cfg, "TFServingErrorRatioHigh", [(failed, _counter(60))], True, serving_labels),
        _case(cfg, "TFServingLatencyP99High", _latency(cfg, slow=True), True, serving_labels),
        _case(cfg, "TFServingLatencyP99High", _latency(cfg, slow=False), False),
        _case(cfg, "TFServingReleaseNotAvailable", [(ready, f"0x{SAMPLES}")], True),
        _case(cfg, "TFServingReleaseNotAvailable", [], True),  # no pods, no series at all
        _case(cfg, "TFServingReleaseNotAvailable", [(ready, f"1x{SAMPLES}")], False),
        _case(cfg, "TFServingNoTraffic", [(ok[0], f"5x{SAMPLES}")], True),
        _case(cfg, "TFServingNoTraffic", [], True),  # server gone: no series either
        _case(cfg, "TFServingNoTraffic", [ok], False),
        _case(
            cfg,
            "ServingDriftHigh",
            [
                (f"{alerts.DRIFT}{{{drift_labels}}}", f"0.2x{SAMPLES}"),
                (f"{alerts.DRIFT_THRESHOLD}{{{drift_labels}}}", f"0.03x{SAMPLES}"),
            ],
            True,
            drift,
        ),
        _case(
            cfg,
            "ServingDriftHigh",
            [
                (f"{alerts.DRIFT}{{{drift_labels}}}", f"0.01x{SAMPLES}"),
                (f"{alerts.DRIFT_THRESHOLD}{{{drift_labels}}}", f"0.03x{SAMPLES}"),
            ],
            False,
        ),
    ]


@pytest.mark.parametrize("env", ENVS)
def test_rules_parse(env: str, tmp_path: Path) -> None:
    result = promtool.check_rules(_groups(config.load(env)), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("env", ENVS)
def test_each_alert_fires_and_stays_quiet(env: str, tmp_path: Path) -> None:
    cfg = config.load(env)
    cases = _cases(cfg)
    names = {r["alert"] for g in _groups(cfg) for r in g["rules"] if "alert" in r}
    tested = {c["alert_rule_test"][0]["alertname"] for c in cases}
    assert tested == names, "every alert needs a firing and a quiet case"
    for name in names:
        verdicts = {
            bool(c["alert_rule_test"][0]["exp_alerts"])
            for c in cases
            if c["alert_rule_test"][0]["alertname"] == name
        }
        assert verdicts == {True, False}, name
    result = promtool.test_rules(_groups(cfg), cases, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_thresholds_come_from_the_environment() -> None:
    prod, dev = config.load("prod"), config.load("dev")
    p99 = _alert(prod, "TFServingLatencyP99High")["expr"]
    assert p99.endswith(f"> {prod.loadtest.slo.p99_ms / 1000:g}")
    assert _alert(dev, "TFServingLatencyP99High")["expr"].endswith(
        f"> {dev.loadtest.slo.p99_ms / 1000:g}"
    )
    assert f'namespace="{prod.deploy.namespace}"' in p99
    errors = _alert(prod, "TFServingErrorRatioHigh")["expr"]
    assert errors.endswith(f"> {prod.monitoring.alerts.error_ratio_slo}")


def test_every_alert_has_a_runbook_line_and_section() -> None:
    cfg = config.load("prod")
    page = (REPO_ROOT / "docs" / "monitoring.md").read_text()
    for group in _groups(cfg):
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            notes = rule["annotations"]
            assert notes["runbook"].strip() and "\n" not in notes["runbook"]
            anchor = notes["runbook_url"].split("#", 1)[1]
            assert f"### {rule['alert']}" in page and anchor == rule["alert"].lower()


def test_the_rendered_manifest_is_a_prometheus_rule(tmp_path: Path) -> None:
    cfg = config.load("staging")
    doc = yaml.safe_load(alerts.render(cfg, app_name(cfg), VERSION, {"a": "b"}))
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule"
    assert doc["metadata"]["namespace"] == cfg.deploy.namespace
    assert promtool.check_rules(doc["spec"]["groups"], tmp_path).returncode == 0


def test_a_release_renders_its_alerts_and_render_check_sees_a_changed_slo(repo) -> None:
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    record = repo.current("dev")
    path = repo.environments / "dev" / "manifests" / "prometheusrule.yaml"
    doc = yaml.safe_load(path.read_text())
    available = next(
        r
        for g in doc["spec"]["groups"]
        for r in g["rules"]
        if r.get("alert") == "TFServingReleaseNotAvailable"
    )
    assert f"released version {record.version} AVAILABLE" in available["annotations"]["summary"]
    before = manifests.render(repo.environments, ["dev"], check=True)
    assert not [d for d in before if "/manifests/" in d.path]
    update_overlay(repo.environments, "dev", {"monitoring": {"alerts": {"error_ratio_slo": 0.05}}})
    stale = manifests.render(repo.environments, ["dev"], check=True)
    changed = [(Path(d.path).name, d.kind) for d in stale if "/manifests/" in d.path]
    assert changed == [("prometheusrule.yaml", "stale")]
