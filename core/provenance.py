"""Who and what produced an artifact or a release: the source commit and the actor.

Shared by the Pusher (OCI annotations) and the promotion commands (release records), so both
name the same commit. In workflows triggered by `workflow_run`, GITHUB_SHA is the tip of main,
not the commit that was tested: workflows set MLOPS_SOURCE_COMMIT to the tested `head_sha`.
"""

from __future__ import annotations

import getpass
import os
import subprocess

from core.paths import REPO_ROOT


def git_commit() -> str:
    for name in ("MLOPS_SOURCE_COMMIT", "GITHUB_SHA"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def run_url() -> str:
    """The GitHub Actions run this process belongs to (its artifacts hold the run report), or ""
    outside GitHub Actions."""
    repository, run_id = os.environ.get("GITHUB_REPOSITORY"), os.environ.get("GITHUB_RUN_ID")
    if not (os.environ.get("GITHUB_ACTIONS") and repository and run_id):
        return ""
    server = os.environ.get("GITHUB_SERVER_URL") or "https://github.com"
    return f"{server}/{repository}/actions/runs/{run_id}"


def actor() -> str:
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()
