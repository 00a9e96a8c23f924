"""Records keep the commit that was tested, not the branch tip a later workflow ran on."""

from __future__ import annotations

import pytest

from delivery.promotion import git_commit


def test_the_tested_commit_wins_over_the_workflow_sha(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SHA", "b" * 40)  # under workflow_run: main's tip
    monkeypatch.setenv("MLOPS_SOURCE_COMMIT", "a" * 40)  # github.event.workflow_run.head_sha
    assert git_commit() == "a" * 40


def test_without_a_source_commit_the_workflow_sha_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_SOURCE_COMMIT", raising=False)
    monkeypatch.setenv("GITHUB_SHA", "c" * 40)
    assert git_commit() == "c" * 40
