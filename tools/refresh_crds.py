"""`python -m tools.refresh_crds`: vendor the OpenAPI schemas of the custom resources that
`mlops render` writes, from each project's published CRD at a pinned release.

The rendered Rollout, AnalysisTemplate, HTTPRoute and PodMonitor are checked offline against
these schemas (tests/support/crd_schemas.py), as kubernetes-validate checks the core kinds.
infra/crds/<kind>.json holds one served version's `openAPIV3Schema` without its descriptions,
with the source URL and release it came from. To move to a newer release, change SOURCES and
run this; with no route to GitHub, `--mirror DIR` reads git clones named owner+name/repo below
DIR (the layout of a mirror of the three repositories) instead.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from core.paths import REPO_ROOT

CRDS_DIR = REPO_ROOT / "infra" / "crds"


@dataclass(frozen=True)
class Source:
    kind: str
    repo: str  # owner/name on GitHub
    release: str  # a tag
    path: str  # the CRD file in the repository
    version: str  # the served version the manifests use

    @property
    def url(self) -> str:
        return f"https://raw.githubusercontent.com/{self.repo}/{self.release}/{self.path}"


SOURCES = (
    Source(
        "Rollout", "argoproj/argo-rollouts", "v1.9.1", "manifests/crds/rollout-crd.yaml", "v1alpha1"
    ),
    Source(
        "AnalysisTemplate",
        "argoproj/argo-rollouts",
        "v1.9.1",
        "manifests/crds/analysis-template-crd.yaml",
        "v1alpha1",
    ),
    Source(
        "HTTPRoute",
        "kubernetes-sigs/gateway-api",
        "v1.6.1",
        "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
        "v1",
    ),
    Source(
        "PodMonitor",
        "prometheus-operator/prometheus-operator",
        "v0.93.0",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
        "v1",
    ),
)


def without_descriptions(node: Any) -> Any:
    """The schema minus its prose: a fraction of the size, the same rules."""
    if isinstance(node, dict):
        return {k: without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [without_descriptions(v) for v in node]
    return node


def extract(source: Source, crd_text: str) -> dict[str, Any]:
    crd = yaml.safe_load(crd_text)
    group = crd["spec"]["group"]
    for version in crd["spec"]["versions"]:
        if version["name"] == source.version:
            return {
                "kind": source.kind,
                "apiVersion": f"{group}/{source.version}",
                "source": source.url,
                "release": source.release,
                "schema": without_descriptions(version["schema"]["openAPIV3Schema"]),
            }
    raise SystemExit(f"{source.url}: no version {source.version} in {crd['metadata']['name']}")


def fetch(source: Source, mirror: Path | None) -> str:
    if mirror is not None:
        git = mirror / source.repo.replace("/", "+") / "repo"
        return subprocess.run(
            ["git", "-C", str(git), "show", f"{source.release}:{source.path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    with urllib.request.urlopen(source.url, timeout=60) as response:
        return response.read().decode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, help="read git clones below DIR, not GitHub")
    args = parser.parse_args(argv)
    CRDS_DIR.mkdir(parents=True, exist_ok=True)
    for source in SOURCES:
        doc = extract(source, fetch(source, args.mirror))
        out = CRDS_DIR / f"{source.kind.lower()}.json"
        out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        print(f"{out.relative_to(REPO_ROOT)}: {source.kind} {source.release} from {source.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
