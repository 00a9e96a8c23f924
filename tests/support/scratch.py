"""A scratch copy of the committed repository that a virtualenv set up elsewhere already
satisfies, for runs of `mlops init` and the make targets on data other than the taxi sample
(tests/end_to_end/test_init_tasks.py, `make init-check`)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

from tests.support.seed import SKIPPED, write_committed_tree
from tests.support.servers import free_port

# What the make targets' `setup` prerequisite compares with the venv's stamp.
SETUP_INPUTS = ("requirements.lock", "requirements.overrides", "pyproject.toml")


def committed_copy(
    repo: Path, dest: Path, skip: tuple[str, ...] = SKIPPED, free_ports: bool = True
) -> Path:
    """HEAD's tree of `repo` as a fresh git checkout in `dest`: its setup inputs dated ten years
    back, so `make setup` with VENV=<a set-up venv> installs nothing, and (`free_ports`) its
    serving ports free ones, so a server it starts meets no other checkout's. Without
    `free_ports` the copy is exactly the commit, as its own tests expect it."""
    write_committed_tree(repo, dest, skip)
    old = time.time() - 10 * 365 * 86400
    for name in SETUP_INPUTS:
        os.utime(dest / name, (old, old))
    if free_ports:
        _free_ports(dest)
    commit(dest, "seed", init=True)
    return dest


def _free_ports(dest: Path) -> None:
    base = dest / "environments" / "base" / "config.yaml"
    text = base.read_text()
    text = re.sub(r"rest_port: \d+", f"rest_port: {free_port()}", text)
    base.write_text(re.sub(r"grpc_port: \d+", f"grpc_port: {free_port()}", text))


def commit(root: Path, message: str, init: bool = False) -> None:
    """Everything in `root` in one commit (`init`: a new repository first)."""
    steps = [["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message]]
    for args in ([["init", "-q"]] if init else []) + steps:
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def env(root: Path) -> dict[str, str]:
    """The scratch copy's packages first: it is the project under test, not the checkout the
    virtualenv installed in editable mode."""
    return {**os.environ, "PYTHONPATH": str(root), "TF_USE_LEGACY_KERAS": "1"}
