"""Shadow and canary manifests: a Rollout with the Deployment's pods, a route at 100/0, the
AnalysisTemplate holding `mlops analyze`'s own queries (each one parsed by promtool), and the
Argo CD settings that let Rollouts own the weights."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core import config
from delivery import analysis_queries, manifests
from store import release as rel
from tests.support.project import MODEL, SLUG
from tests.support.repo import update_overlay
from tests.support.stores import Repo

# The Kubernetes name of the model's serving objects: the model name with dashes.
SERVING = f"{MODEL.replace('_', '-').lower()}-serving"


def _released(repo: Repo) -> None:
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("staging")
    repo.pass_analysis("staging")
    repo.delivery.promote("staging", "prod")


def _doc(repo: Repo, env: str, name: str) -> dict:
    return yaml.safe_load((repo.environments / env / "manifests" / name).read_text())


def test_the_rollout_runs_the_pods_a_deployment_would(repo: Repo) -> None:
    """Same pod template, pinned to the same model digest; only the workload kind changes."""
    _released(repo)
    rollout = _doc(repo, "prod", "rollout.yaml")
    assert not (repo.environments / "prod" / "manifests" / "deployment.yaml").exists()
    update_overlay(repo.environments, "prod", {"rollout": {"strategy": "none", "steps": []}})
    cfg = config.load("prod", repo.environments)
    plain = yaml.safe_load(
        manifests.render_environment(cfg, rel.read(repo.environments, "prod"))["deployment.yaml"]
    )
    assert rollout["spec"]["template"] == plain["spec"]["template"]
    assert rollout["spec"]["selector"] == plain["spec"]["selector"]
    digest = rollout["metadata"]["annotations"]["mlops.template/model-digest"]
    assert digest == repo.current("prod").digest
    hpa = _doc(repo, "prod", "hpa.yaml")
    assert hpa["spec"]["scaleTargetRef"]["kind"] == "Rollout"


def test_canary_steps_and_background_analysis_come_from_the_config(repo: Repo) -> None:
    _released(repo)
    canary = _doc(repo, "prod", "rollout.yaml")["spec"]["strategy"]["canary"]
    assert canary["steps"] == [
        {"setWeight": 10},
        {"pause": {"duration": "300s"}},
        {"setWeight": 50},
        {"pause": {"duration": "300s"}},
    ]
    assert canary["analysis"]["templates"] == [{"templateName": f"{SERVING}-analysis"}]
    assert canary["canaryMetadata"] == {"labels": {"role": "canary"}}
    assert canary["stableMetadata"] == {"labels": {"role": "stable"}}
    plugin = canary["trafficRouting"]["plugins"]["argoproj-labs/gatewayAPI"]
    assert plugin == {"httpRoute": SERVING, "namespace": f"{SLUG}-prod"}


def test_the_route_starts_at_100_0_and_only_shadow_mirrors(repo: Repo) -> None:
    _released(repo)
    for env in ("staging", "prod"):
        rule = _doc(repo, env, "httproute.yaml")["spec"]["rules"][0]
        weights = {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}
        assert weights == {f"{SERVING}-stable": 100, f"{SERVING}-canary": 0}
    staging = _doc(repo, "staging", "httproute.yaml")["spec"]["rules"][0]
    (mirror,) = staging["filters"]
    assert mirror["type"] == "RequestMirror"
    assert mirror["requestMirror"] == {
        "backendRef": {"name": f"{SERVING}-canary", "port": 8501},
        "percent": 10,
    }
    assert "filters" not in _doc(repo, "prod", "httproute.yaml")["spec"]["rules"][0]
    steps = _doc(repo, "staging", "rollout.yaml")["spec"]["strategy"]["canary"]["steps"]
    assert steps[0] == {"setCanaryScale": {"replicas": 1}} and "analysis" in steps[1]
    assert not any("setWeight" in step for step in steps)  # shadow sends no live traffic


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_the_analysis_template_holds_the_queries_mlops_analyze_asks(repo: Repo, env: str) -> None:
    _released(repo)
    cfg = config.load(env, repo.environments)
    metrics = _doc(repo, env, "analysistemplate.yaml")["spec"]["metrics"]
    expected = analysis_queries.queries(cfg)
    assert [m["name"] for m in metrics] == [q.name for q in expected]
    for metric, query in zip(metrics, expected, strict=True):
        assert metric["provider"]["prometheus"]["query"] == query.promql
        assert f"{query.threshold:g}" in metric["successCondition"]
        assert metric["failureLimit"] == cfg.rollout.analysis.failure_limit
    # The p99 ceiling is the load test's SLO of the same environment.
    assert metrics[2]["successCondition"].endswith(f"<= {cfg.loadtest.slo.p99_ms:g}")


def test_the_pod_monitor_labels_the_versions_and_accepts_tf_servings_content_type(
    repo: Repo,
) -> None:
    _released(repo)
    spec = _doc(repo, "prod", "podmonitor.yaml")["spec"]
    assert "role" in spec["podTargetLabels"]
    assert spec["fallbackScrapeProtocol"] == "PrometheusText0.0.4"
    assert spec["podMetricsEndpoints"][0]["path"] == "/monitoring/prometheus/metrics"


def test_argocd_leaves_the_route_weights_to_rollouts(repo: Repo) -> None:
    update_overlay(repo.environments, "base", {"deploy": {"repo_url": "https://git.test/o/r"}})
    manifests.render(repo.environments, ["dev", "staging", "prod"], check=False)

    def app(env: str) -> dict:
        return yaml.safe_load(manifests.argocd_path(repo.environments, env).read_text())

    for env in ("staging", "prod"):
        spec = app(env)["spec"]
        assert "RespectIgnoreDifferences=true" in spec["syncPolicy"]["syncOptions"]
        assert "ApplyOutOfSyncOnly=true" in spec["syncPolicy"]["syncOptions"]
        (ignored,) = spec["ignoreDifferences"]
        assert ignored["kind"] == "HTTPRoute"
        assert ignored["jsonPointers"] == [
            "/spec/rules/0/backendRefs/0/weight",
            "/spec/rules/0/backendRefs/1/weight",
        ]
    assert "ignoreDifferences" not in app("dev")["spec"]


def test_render_check_covers_the_rollout_kinds(repo: Repo) -> None:
    _released(repo)
    manifests.render(repo.environments, ["prod"], check=False)
    assert manifests.render(repo.environments, ["prod"], check=True) == []
    route = repo.environments / "prod" / "manifests" / "httproute.yaml"
    route.write_text(route.read_text().replace("weight: 0", "weight: 5"))
    update_overlay(repo.environments, "prod", {"rollout": {"analysis": {"max_error_ratio": 0.02}}})
    stale = {
        d.path.rsplit("/", 1)[-1] for d in manifests.render(repo.environments, ["prod"], check=True)
    }
    assert {"httproute.yaml", "analysistemplate.yaml"} <= stale


PROMTOOL = shutil.which("promtool")


def _promtool_check(tmp_path: Path, expressions: dict[str, str]) -> subprocess.CompletedProcess:
    rules = {
        "groups": [
            {
                "name": "canary-analysis",
                "rules": [
                    {"record": f"mlops:{name.replace('-', '_')}", "expr": expr}
                    for name, expr in expressions.items()
                ],
            }
        ]
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    return subprocess.run(
        [PROMTOOL or "promtool", "check", "rules", str(path)], capture_output=True, text=True
    )


@pytest.mark.skipif(PROMTOOL is None, reason="needs promtool: make monitoring-tools")
@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_rendered_query_parses(repo: Repo, env: str, tmp_path: Path) -> None:
    """promtool (Debian's prometheus) parses each query as a recording rule's expression."""
    _released(repo)
    metrics = _doc(repo, env, "analysistemplate.yaml")["spec"]["metrics"]
    result = _promtool_check(
        tmp_path, {m["name"]: m["provider"]["prometheus"]["query"] for m in metrics}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 3 rules found" in result.stdout


@pytest.mark.skipif(PROMTOOL is None, reason="needs promtool: make monitoring-tools")
def test_promtool_refuses_a_broken_query(tmp_path: Path) -> None:
    """The check bites: one unbalanced parenthesis fails it."""
    cfg = config.load("prod")
    broken = analysis_queries.queries(cfg)[1].promql.replace(") or", " or", 1)
    result = _promtool_check(tmp_path, {"error-ratio": broken})
    assert result.returncode != 0
