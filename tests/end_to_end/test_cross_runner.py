"""One artifact from training to prod and back, across runners that share nothing but Git and
the registry.

Each step runs the real `mlops` command in its own fresh clone of a local bare repository, as
a GitHub job would on a fresh runner: the pipeline publishes the candidate to a real OCI
registry on loopback (standing in for GHCR), then cd-dev, cd-staging, promote-prod and a
rollback each start from `git clone`, with the previous clone (and its build/) deleted. The
run summary passes between jobs the way `actions/upload-artifact` passes it: as a file in an
artifact folder. At the end the records, the registry's tags and digests (read with skopeo),
and the manifests all name the same artifact.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from store.model_store import Artifact
from tests.support.candidates import publish_second_candidate
from tests.support.repo import write_sample
from tests.support.seed import write_committed_tree
from tools.local_registry import Registry

pytestmark = pytest.mark.slow

REPO = REPO_ROOT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout


class Flow:
    """A bare `origin`, the registry, an artifact folder, and one fresh clone per job."""

    def __init__(self, root: Path, registry: Registry) -> None:
        self.root, self.registry = root, registry
        self.origin = root / "origin.git"
        self.artifacts = root / "artifacts"
        self.env = {
            **os.environ,
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": "Acme/Taxi",
            "MODEL_REGISTRY": registry.host,
            "GIT_AUTHOR_NAME": "bot",
            "GIT_AUTHOR_EMAIL": "bot@example.com",
            "GIT_COMMITTER_NAME": "bot",
            "GIT_COMMITTER_EMAIL": "bot@example.com",
        }
        self.env.pop("PYTHONPATH", None)
        self.jobs: list[Path] = []
        seed = root / "seed"
        write_committed_tree(REPO, seed)  # HEAD's files: no local release, no uncommitted edit
        for env in ("dev", "staging", "prod"):
            shutil.rmtree(seed / "environments" / env / "manifests", ignore_errors=True)
            (seed / "environments" / env / "release.yaml").unlink(missing_ok=True)
        self._short_runs(seed / "environments")
        _git(seed, "init", "-q", "-b", "main")
        _git(seed, "add", "-A")
        subprocess.run(["git", "commit", "-qm", "template"], cwd=seed, env=self.env, check=True)
        _git(root, "clone", "-q", "--bare", str(seed), str(self.origin))
        shutil.rmtree(seed)

    @staticmethod
    def _short_runs(environments: Path) -> None:
        """Test-sized training and load tests, committed like any overlay change."""
        ports = {"rest_port": _free_port(), "grpc_port": _free_port()}
        quick = {
            "users": 2,
            "spawn_rate": 2,
            "run_seconds": 3,
            "warmup_seconds": 1,
            "rows": 50,
            "rows_file": "data/taxi/span-1/data.csv",
            "slo": {"p95_ms": 5000, "p99_ms": 10000, "max_failure_ratio": 0.0, "min_rps": 1},
        }
        for env in ("dev", "staging", "prod"):
            path = environments / env / "config.yaml"
            data = yaml.safe_load(path.read_text())
            data.setdefault("serving", {}).update(ports)
            data["loadtest"] = quick
            if env == "staging":
                # No Prometheus scrapes these runners' staging stand-in: skipping its shadow
                # analysis is the committed decision the analysis-passed rule asks for.
                data["rollout"] = {"strategy": "none"}
            if env == "dev":
                data["training"] = {"train_steps": 300, "eval_steps": 50}
            path.write_text(yaml.safe_dump(data, sort_keys=False))

    def job(self, name: str) -> Path:
        """A fresh runner: the previous job's clone, build/ included, is gone."""
        for old in self.jobs:
            shutil.rmtree(old, ignore_errors=True)
        clone = self.root / name
        _git(self.root, "clone", "-q", str(self.origin), str(clone))
        self.jobs.append(clone)
        return clone

    def mlops(self, clone: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [sys.executable, "-m", "mlops.cli", *args],
            cwd=clone,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if ok:
            assert out.returncode == 0, (
                f"mlops {' '.join(args)}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            )
        assert "Traceback" not in out.stdout + out.stderr
        return out

    def serve_and_record(self, clone: Path, env: str) -> None:
        self.mlops(clone, "serve", "--env", env, "--detach")
        try:
            self.mlops(clone, "loadtest", "--env", env, "--record")
        finally:
            self.mlops(clone, "serve", "--env", env, "--stop")

    def commit(self, clone: Path, message: str) -> None:
        _git(clone, "add", "environments")
        subprocess.run(["git", "commit", "-qm", message], cwd=clone, env=self.env, check=True)
        _git(clone, "push", "-q", "origin", "HEAD:main")

    def record(self, clone: Path, env: str) -> dict:
        return yaml.safe_load((clone / "environments" / env / "release.yaml").read_text())


def test_one_artifact_moves_through_every_environment_across_fresh_runners(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "registry")
    try:
        _flow(Flow(tmp_path / "flow", registry), registry, tmp_path)
    finally:
        registry.stop()


def _flow(flow: Flow, registry: Registry, tmp_path: Path) -> None:
    data = write_sample(tmp_path / "data", rows=3000)
    # ci (push to main): train once; the Pusher publishes the candidate to the registry.
    train = flow.job("ci-train")
    flow.mlops(train, "run", "--env", "dev", "--data", str(data))
    summary = json.loads((train / "build" / "dev" / "run_summary.json").read_text())
    assert summary["pushed"] and summary["pushed_path"].startswith(
        f"oci://{registry.host}/acme/taxi/models/taxi_tips@sha256:"
    )
    upload = flow.artifacts / "run-1" / "run_summary.json"
    upload.parent.mkdir(parents=True)
    shutil.copy(train / "build" / "dev" / "run_summary.json", upload)

    # cd-dev: a fresh runner deploys exactly that candidate; it never trains.
    dev = flow.job("cd-dev")
    flow.mlops(dev, "promote", "--to", "dev", "--summary", str(upload))
    flow.serve_and_record(dev, "dev")
    flow.commit(dev, "dev: release")
    first = flow.record(dev, "dev")["current"]
    assert first["uri"] == summary["pushed_path"] and first["digest"] == summary["model_digest"]
    assert first["loadtest"]["verdict"] == "PASS"

    # cd-staging after the promotion PR merged: another fresh runner.
    staging = flow.job("cd-staging")
    flow.mlops(staging, "promote", "--from", "dev", "--to", "staging")
    flow.serve_and_record(staging, "staging")
    flow.commit(staging, "staging: release")

    # promote-prod, approved for the version staging runs.
    prod = flow.job("promote-prod")
    version = str(first["version"])
    refused = flow.mlops(
        prod,
        "promote",
        "--from",
        "staging",
        "--to",
        "prod",
        "--expect-version",
        str(int(version) + 1),
        ok=False,
    )
    assert refused.returncode == 1 and "refused (expected-version)" in refused.stderr
    flow.mlops(prod, "promote", "--from", "staging", "--to", "prod", "--expect-version", version)
    flow.commit(prod, "prod: release")

    # A second candidate reaches dev; then a rollback on yet another runner restores the first.
    train2 = flow.job("ci-train-2")
    upload2 = _second_candidate(flow, train2, first)
    dev2 = flow.job("cd-dev-2")
    flow.mlops(dev2, "promote", "--to", "dev", "--summary", str(upload2))
    flow.commit(dev2, "dev: second release")
    back = flow.job("rollback")
    flow.mlops(back, "rollback", "--env", "dev")
    flow.commit(back, "dev: rollback")

    final = flow.job("check")
    records = {env: flow.record(final, env)["current"] for env in ("dev", "staging", "prod")}
    digest = first["uri"].partition("@")[2]
    for env, current in records.items():
        assert (current["version"], current["digest"]) == (first["version"], first["digest"])
        assert current["uri"].partition("@")[2] == digest, env
        tag = f"{registry.host}/acme/taxi/models/taxi_tips:{env}"
        manifest, seen = registry.raw_manifest(tag)  # skopeo, not our client
        assert seen == digest, f"{env}'s tag points at {seen}, the record says {digest}"
        assert manifest["annotations"]["mlops.template.model.tree-digest"] == first["digest"]
        # prod runs a canary: its pods are a Rollout's, rendered in place of the Deployment.
        workload = "rollout.yaml" if env == "prod" else "deployment.yaml"
        pods = (final / "environments" / env / "manifests" / workload).read_text()
        assert f"{registry.host}/acme/taxi/models/taxi_tips@{digest}" in pods
    assert records["staging"]["loadtest"]["verdict"] == "PASS"
    assert records["prod"]["promoted_from"] == "staging"
    log = _git(final, "log", "--format=%s", "main")
    assert log.splitlines()[:5] == [
        "dev: rollback",
        "dev: second release",
        "prod: release",
        "staging: release",
        "dev: release",
    ]


def _second_candidate(flow: Flow, clone: Path, first: dict) -> Path:
    """A different model in the registry (one extra asset) and a run summary naming it."""
    artifact = Artifact(int(first["version"]), first["digest"], first["uri"])
    return publish_second_candidate(
        clone, flow.env, artifact, flow.artifacts / "run-2" / "run_summary.json"
    )
