"""The Grafana dashboard of the served model, shipped to Grafana's dashboard sidecar.

The dashboard is committed as JSON (infra/monitoring/dashboard.json: edit it in Grafana, export,
commit). Each environment's manifests carry it in a ConfigMap labelled `grafana_dashboard: "1"`,
which the sidecar of Grafana's Helm chart loads, so the dashboard ships with the model it shows.
Its queries read TF Serving's series, delivery.alerts' recording rules and what `mlops monitor`
exports; tests/delivery/test_dashboard.py parses each one and finds each metric.
"""

from __future__ import annotations

import json

from core.config import EnvironmentConfig
from core.paths import REPO_ROOT

DASHBOARD = REPO_ROOT / "infra" / "monitoring" / "dashboard.json"
KIND = "dashboard"
SIDECAR_LABEL = "grafana_dashboard"


def load() -> dict:
    return json.loads(DASHBOARD.read_text())


def queries(dashboard: dict) -> list[str]:
    """Every PromQL expression: panel targets and annotations (template variables left in)."""
    out = [t["expr"] for p in dashboard.get("panels", []) for t in p.get("targets", [])]
    out += [a["expr"] for a in dashboard.get("annotations", {}).get("list", []) if "expr" in a]
    return out


def render(cfg: EnvironmentConfig, app: str, labels: str) -> str:
    """The ConfigMap; `labels` is the manifests' label block (one `key: value` a line)."""
    body = DASHBOARD.read_text().rstrip("\n")
    indented = "\n".join(f"    {line}" if line else "" for line in body.splitlines())
    label_lines = "\n".join(f"    {line}" for line in labels.splitlines())
    return (
        f"# Rendered from environments/{cfg.name}/ and infra/monitoring/dashboard.json by "
        "`mlops render`; do not edit by hand.\n"
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        f"  name: {app}-dashboard\n"
        f"  namespace: {cfg.deploy.namespace}\n"
        "  labels:\n"
        f"{label_lines}\n"
        f'    {SIDECAR_LABEL}: "1"\n'
        "data:\n"
        f"  {app}.json: |\n"
        f"{indented}\n"
    )
