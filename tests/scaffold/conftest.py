"""Fixtures of the `mlops init` tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scaffold.test_init_command import git


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "environments").mkdir(parents=True)
    (root / "environments" / "README").write_text("environments\n")
    (root / ".gitignore").write_text("build/\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    return root
