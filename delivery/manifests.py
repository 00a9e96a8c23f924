"""Rendered manifests: the Kubernetes YAML each environment runs, committed next to its config.

`infra/templates/` plus an environment's config and release record render
`environments/<env>/manifests/` (TF Serving Deployment, its ConfigMap of TF Serving files,
Service, HorizontalPodAutoscaler, PodDisruptionBudget, the PrometheusRule of delivery.alerts,
the dashboard ConfigMap of delivery.dashboard) and `environments/<env>/argocd/application.yaml`
(its repoURL from delivery.repo_url; without one, a README there says what to set). A promotion
rewrites the record and the manifests together, so its pull request shows reviewers exactly
what the cluster will change; `mlops render --check` fails when they drift apart.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

from core import config
from core.config import EnvironmentConfig
from core.errors import GateError
from core.paths import REPO_ROOT
from core.ports import GRPC_PORT, REST_PORT
from core.uris import join_uri, repo_relative
from delivery import alerts, dashboard, repo_url
from serving import config_files as C
from store import release as rel
from store.model_store import OCI_SCHEME

INFRA = REPO_ROOT / "infra"
TEMPLATES = INFRA / "templates"
MANIFESTS_DIR = "manifests"
KINDS = ("configmap", "deployment", "service", "hpa", "pdb")
NO_RELEASE = (
    "# {env}: no release yet\n\nNothing is deployed. `mlops promote` renders the "
    "Kubernetes manifests here together with the first release record.\n"
)

_env = C.jinja_environment(TEMPLATES)
_env.globals.update(grpc_port=GRPC_PORT, rest_port=REST_PORT)


NO_REPO_URL = (
    "# {env}: no Argo CD Application\n\nArgo CD needs the URL of this repository, and this "
    "render had none: deploy.repo_url is empty and the checkout has no hosted Git remote "
    "`origin`.\nTo render `application.yaml` here: {what}. Then run `mlops render` and "
    "commit.\n"
)


class StaleManifests(GateError):
    """Committed manifests differ from what the config and release record render."""


def app_name(cfg: EnvironmentConfig) -> str:
    return f"{cfg.model_name.replace('_', '-').lower()}-serving"


OCI_MODEL_ROOT = "/models"  # the emptyDir the init container pulls into


def model_base_path(cfg: EnvironmentConfig, release: rel.Release | None = None) -> str:
    """Where TF Serving reads in the pod: the pulled emptyDir for a registry artifact, else the
    bucket (or deploy.model_base_path) the store is."""
    if release is not None and release.uri.startswith(OCI_SCHEME):
        return f"{OCI_MODEL_ROOT}/{cfg.model_name}"
    return cfg.deploy.model_base_path or join_uri(cfg.paths.model_store, cfg.model_name)


def render_environment(cfg: EnvironmentConfig, record: rel.Record | None) -> dict[str, str]:
    """File name (below environments/<env>/manifests/) -> content."""
    if record is None:
        return {"README.md": NO_RELEASE.format(env=cfg.name)}
    current = record.current
    files = C.render(
        cfg,
        model_base_path(cfg, current),
        versions=[current.version],
        labels={"stable": current.version},
    )
    flags = C.server_flags(cfg, "/config", files, GRPC_PORT, REST_PORT)
    config_sha = hashlib.sha256("".join(files[k] for k in sorted(files)).encode()).hexdigest()
    app = app_name(cfg)
    label_map = {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": cfg.model_name.replace("_", "-"),
        "app.kubernetes.io/managed-by": "mlops-render",
        "mlops.template/environment": cfg.name,
        "mlops.template/model-version": str(current.version),
    }
    labels = "\n".join(
        f'{k}: "{v}"' if k.endswith("model-version") else f"{k}: {v}" for k, v in label_map.items()
    )
    values = {
        "env": cfg.name,
        "app": app,
        "d": cfg.deploy,
        "s": cfg.serving,
        "model_name": cfg.model_name,
        "release": current,
        "labels": labels,
        "files": files,
        "flags": flags,
        "config_sha": config_sha,
        "oci_ref": current.uri[len(OCI_SCHEME) :] if current.uri.startswith(OCI_SCHEME) else "",
    }
    out = {f"{kind}.yaml": _env.get_template(f"{kind}.yaml.j2").render(**values) for kind in KINDS}
    out[f"{alerts.KIND}.yaml"] = alerts.render(cfg, app, str(current.version), label_map)
    out[f"{dashboard.KIND}.yaml"] = dashboard.render(cfg, app, labels)
    if cfg.rollout.strategy != "none":
        from delivery import rollout_manifests

        out = rollout_manifests.render(cfg, app, out)
    return out


def render_argocd(cfg: EnvironmentConfig, repo_url: str) -> str:
    """The Application for `cfg`'s environment, reading `repo_url` (see delivery.repo_url)."""
    return _env.get_template("argocd-application.yaml.j2").render(
        env=cfg.name,
        app=app_name(cfg),
        d=cfg.deploy,
        repo_url=repo_url,
        progressive=cfg.rollout.strategy != "none",
    )


def expected(environments_dir: Path, env: str) -> dict[Path, str]:
    """Every file `mlops render` owns for `env`, by absolute path."""
    cfg = config.load(env, environments_dir)
    record = rel.read(environments_dir, env)
    out = {
        Path(environments_dir) / env / MANIFESTS_DIR / name: text
        for name, text in render_environment(cfg, record).items()
    }
    where = repo_relative(str(Path(environments_dir) / env))
    url = repo_url.resolve(cfg.deploy.repo_url, Path(environments_dir), f"{where} config")
    argocd = argocd_path(environments_dir, env)
    if url is None:
        what = repo_url.WHAT_TO_SET
        out[argocd.with_name("README.md")] = NO_REPO_URL.format(env=env, what=what)
    else:
        out[argocd] = render_argocd(cfg, url)
    return out


def argocd_path(environments_dir: Path, env: str) -> Path:
    """environments/<env>/argocd/application.yaml: beside the manifests it deploys."""
    return Path(environments_dir) / env / "argocd" / "application.yaml"


def write_environment(environments_dir: Path, env: str, files: dict[str, str]) -> Path:
    """Swap the whole manifests folder: build it aside, then two renames."""
    target = Path(environments_dir) / env / MANIFESTS_DIR
    fresh = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{MANIFESTS_DIR}."))
    for name, text in files.items():
        (fresh / name).write_text(text)
    os.chmod(fresh, 0o755)
    old = target.parent / f".{MANIFESTS_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


class Drift(NamedTuple):
    """One file that differs from a fresh render, and how."""

    path: str
    kind: str  # "missing", "stale" or "unexpected"

    def __str__(self) -> str:
        what = {
            "missing": "missing: not committed, a render would create it",
            "stale": "stale: its content differs from a fresh render",
            "unexpected": "unexpected: not rendered by mlops, a render would remove it",
        }
        return f"{self.path} ({what[self.kind]})"


def render(environments_dir: Path, envs: list[str], *, check: bool) -> list[Drift]:
    """Write (or, with check, compare) every owned file; return what differed, and how."""
    stale: list[Drift] = []
    for env in envs:
        files = expected(environments_dir, env)
        manifests = Path(environments_dir) / env / MANIFESTS_DIR
        argocd = argocd_path(environments_dir, env).parent
        present = {p for d in (manifests, argocd) if d.exists() for p in d.glob("*") if p.is_file()}
        owned = {p for p in files if p.parent == manifests}
        for path, text in files.items():
            if not path.exists():
                stale.append(Drift(repo_relative(str(path)), "missing"))
            elif path.read_text() != text:
                stale.append(Drift(repo_relative(str(path)), "stale"))
        extra = sorted(present - set(files))
        stale += [Drift(repo_relative(str(p)), "unexpected") for p in extra]
        if not check:
            write_environment(
                environments_dir, env, {p.name: t for p, t in files.items() if p in owned}
            )
            argocd.mkdir(parents=True, exist_ok=True)
            for path in extra:
                if path.parent == argocd:  # application.yaml <-> README.md as the URL comes/goes
                    path.unlink()
            for path, text in files.items():
                if path.parent == argocd:
                    path.write_text(text)
    return stale


def check(environments_dir: Path, envs: list[str]) -> None:
    """`render --check`: change nothing, and stop when any committed file differs from a fresh
    render, so a pull request cannot merge manifests its config and records do not produce."""
    drift = render(environments_dir, envs, check=True)
    if drift:
        raise StaleManifests(
            "committed manifests differ from a fresh render of config, templates and "
            "release records:\n"
            + "\n".join(f"  {d}" for d in drift)
            + "\nRun `mlops render` and commit the result."
        )
