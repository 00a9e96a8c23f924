"""Rendered manifests: valid Kubernetes, true to the environment, and checked for staleness."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from core import config
from core.paths import ENVIRONMENTS_DIR
from delivery import manifests
from mlops import cli
from tests.support import crd_schemas
from tests.support.project import MODEL
from tests.support.repo import update_overlay
from tests.support.stores import Repo

K8S_VERSION = "1.30"


def _released(repo: Repo) -> None:
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("staging")
    repo.pass_analysis("staging")
    repo.delivery.promote("staging", "prod")


CORE_KINDS = {
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ConfigMap",
    "PrometheusRule",
}
# dev replaces its pods at once; staging (shadow) and prod (canary) run them under Argo Rollouts.
KINDS = {
    "dev": CORE_KINDS | {"Deployment"},
    "staging": CORE_KINDS | {"Rollout", "HTTPRoute", "AnalysisTemplate", "PodMonitor"},
    "prod": CORE_KINDS | {"Rollout", "HTTPRoute", "AnalysisTemplate", "PodMonitor"},
}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_manifest_validates_against_the_kubernetes_schema(repo: Repo, env: str) -> None:
    """Core kinds against Kubernetes' schema, custom resources against their CRDs' (vendored
    in infra/crds/, strict: an unknown field fails)."""
    _released(repo)
    folder = repo.environments / env / "manifests"
    kinds = set()
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] == "PrometheusRule":  # a CRD: tests/delivery/test_alerts.py checks it
            kinds.add(doc["kind"])
            continue
        if doc["kind"] in crd_schemas.kinds():
            assert crd_schemas.errors(doc) == [], path.name
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        kinds.add(doc["kind"])
    assert kinds == KINDS[env]


def test_deployment_carries_the_environment_and_the_release(repo: Repo) -> None:
    _released(repo)
    cfg = config.load("prod", repo.environments)
    record = repo.current("prod")
    # prod's pods run under a Rollout (rollout.strategy canary), with the Deployment's template.
    deployment = yaml.safe_load(
        (repo.environments / "prod" / "manifests" / "rollout.yaml").read_text()
    )
    pod = deployment["spec"]["template"]["spec"]["containers"][0]
    assert pod["image"] == cfg.serving.image == "tensorflow/serving:2.16.1"
    # The tensorflow/serving image is amd64-only: its pods must never land on arm64 nodes.
    node_selector = deployment["spec"]["template"]["spec"]["nodeSelector"]
    assert node_selector == {"kubernetes.io/arch": "amd64"}
    # The HPA owns the replica count, so Argo CD's self-heal never fights it.
    assert "replicas" not in deployment["spec"]
    hpa = yaml.safe_load((repo.environments / "prod" / "manifests" / "hpa.yaml").read_text())
    assert hpa["spec"]["minReplicas"] == cfg.deploy.replicas == 3
    assert pod["startupProbe"]["failureThreshold"] * pod["startupProbe"]["periodSeconds"] >= 120
    assert pod["resources"]["limits"] == {"cpu": "4", "memory": "4Gi"}
    assert "--enable_batching=true" in pod["args"]
    probe = " ".join(pod["readinessProbe"]["exec"]["command"])
    assert f"/v1/models/{MODEL}/versions/{record.version}" in probe
    assert '"AVAILABLE"' in probe
    assert deployment["metadata"]["annotations"]["mlops.template/model-digest"] == record.digest
    config_map = yaml.safe_load(
        (repo.environments / "prod" / "manifests" / "configmap.yaml").read_text()
    )
    models = config_map["data"]["models.config"]
    assert f"versions: {record.version}" in models and 'key: "stable"' in models
    assert 'base_path: "' + manifests.model_base_path(cfg) + '"' in models
    pdb = yaml.safe_load((repo.environments / "prod" / "manifests" / "pdb.yaml").read_text())
    assert pdb["spec"]["minAvailable"] == 2


def test_argocd_syncs_dev_and_staging_automatically_and_prod_by_hand(repo: Repo) -> None:
    update_overlay(repo.environments, "base", {"deploy": {"repo_url": "https://git.test/o/r"}})
    manifests.render(repo.environments, ["dev", "staging", "prod"], check=False)
    apps = {
        env: yaml.safe_load(manifests.argocd_path(repo.environments, env).read_text())
        for env in ("dev", "staging", "prod")
    }
    for env, app in apps.items():
        assert app["kind"] == "Application"
        assert app["spec"]["source"]["path"] == f"environments/{env}/manifests"
    assert "automated" in apps["dev"]["spec"]["syncPolicy"]
    assert "automated" in apps["staging"]["spec"]["syncPolicy"]
    assert "automated" not in apps["prod"]["spec"]["syncPolicy"]


def test_render_check_fails_on_stale_manifests_and_passes_after_render(repo: Repo) -> None:
    _released(repo)
    manifests.render(repo.environments, ["dev", "staging", "prod"], check=False)
    assert manifests.render(repo.environments, ["dev", "staging", "prod"], check=True) == []
    update_overlay(repo.environments, "staging", {"deploy": {"replicas": 3}})
    stale = manifests.render(repo.environments, ["staging"], check=True)
    assert any(p.path.endswith("staging/manifests/hpa.yaml") and p.kind == "stale" for p in stale)
    code = cli.main(["--environments", str(repo.environments), "render", "--check"])
    assert code == 1
    manifests.render(repo.environments, ["staging"], check=False)
    assert manifests.render(repo.environments, ["staging"], check=True) == []


def test_committed_manifests_are_up_to_date() -> None:
    """What CI runs: the repository's own manifests match its config and records."""
    assert manifests.render(ENVIRONMENTS_DIR, config.available_environments(), check=True) == []


def test_a_stray_file_in_a_manifests_folder_is_stale(repo: Repo) -> None:
    manifests.render(repo.environments, ["dev"], check=False)
    (repo.environments / "dev" / "manifests" / "extra.yaml").write_text("kind: Secret\n")
    assert any(
        p.path.endswith("dev/manifests/extra.yaml") and p.kind == "unexpected"
        for p in manifests.render(repo.environments, ["dev"], check=True)
    )
