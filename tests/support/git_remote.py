"""A local bare origin and clones of it, for the release scripts and the workflow replay; and
a real release record to commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.paths import REPO_ROOT
from store import release as rel

SCRIPT = REPO_ROOT / "tools" / "release-git.sh"


STANDIN = Path(__file__).with_name("gh_standin.py")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


class Remote:
    """A bare `origin` with main holding three environments, and clones of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = root / "origin.git"
        subprocess.run(
            ["git", "init", "--quiet", "--bare", "-b", "main", str(self.bare)], check=True
        )
        seed = self.clone("seed")
        for env in ("dev", "staging", "prod"):
            (seed / "environments" / env).mkdir(parents=True)
            (seed / "environments" / env / "config.yaml").write_text(f"# {env}\n")
        (seed / "README.md").write_text("template\n")
        git(seed, "add", "-A")
        git(seed, "commit", "--quiet", "-m", "initial")
        git(seed, "push", "--quiet", "origin", "HEAD:main")
        self.gh_state = root / "gh.json"
        bin_dir = root / "bin"
        bin_dir.mkdir()
        (bin_dir / "gh").write_text(f'#!/bin/sh\nexec {sys.executable} {STANDIN} "$@"\n')
        (bin_dir / "gh").chmod(0o755)
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "GH_STANDIN_STATE": str(self.gh_state),
            "BACKOFF_SECONDS": "0",
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
        self.env.pop("GITHUB_ACTIONS", None)

    def clone(self, name: str) -> Path:
        path = self.root / name
        subprocess.run(
            ["git", "clone", "--quiet", str(self.bare), str(path)], check=True, capture_output=True
        )
        git(path, "config", "user.name", "t")
        git(path, "config", "user.email", "t@example.com")
        return path

    def run(self, cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", str(SCRIPT), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            env={**self.env, **extra},
            timeout=60,
        )

    def start(self, cwd: Path, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["bash", str(SCRIPT), *args],
            cwd=cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def log(self, ref: str = "main") -> list[str]:
        return git(self.bare, "log", "--format=%s", ref).splitlines()

    def show(self, path: str, ref: str = "main") -> str:
        return git(self.bare, "show", f"{ref}:{path}")

    def gh(self) -> dict:
        return (
            json.loads(self.gh_state.read_text())
            if self.gh_state.exists()
            else {"calls": [], "prs": {}}
        )


def render_and_push(work: Path, env: dict[str, str], message: str) -> None:
    """Re-render `work`'s manifests from its configs and records, commit everything and push it
    to origin's main: how a test seeds the state a replayed workflow starts from."""
    rendered = subprocess.run(
        [sys.executable, "-m", "mlops.cli", "render"],
        cwd=work,
        env={**env, "PYTHONPATH": "."},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rendered.returncode == 0, rendered.stderr
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", message)
    git(work, "push", "--quiet", "origin", "HEAD:main")


def write_release(root: Path, env: str, version: int, previous: int | None = None) -> None:
    """A real release record (store.release writes it) plus one rendered manifest."""

    def release(v: int) -> rel.Release:
        return rel.Release(
            model_name="taxi_tips",
            version=v,
            digest=f"sha256:{v:064x}",
            uri=f"registry/taxi_tips@sha256:{v:064x}",
        )

    history = [release(previous)] if previous else []
    rel.write(root / "environments", rel.Record(env, release(version), history))
    manifests = root / "environments" / env / "manifests"
    manifests.mkdir(exist_ok=True)
    (manifests / "deployment.yaml").write_text(f"# version {version}\n")
