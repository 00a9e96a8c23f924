"""Contributor tooling stays in step with the Makefile: pre-commit runs what `make lint` runs."""

from __future__ import annotations

import re

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
