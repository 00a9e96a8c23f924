"""`make lock-check`: a change to requirements.in that the lock does not follow fails CI.

Dependabot's pip pull requests edit requirements.in only, while CI installs requirements.lock;
each case here is such an edit made to a copy of the committed files.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from core.paths import REPO_ROOT
from tools import lock_check

FILES = ("requirements.in", "requirements.overrides", "requirements.lock", "Makefile")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_the_committed_lock_matches_requirements_in() -> None:
    assert lock_check.check() == []


def test_a_dependabot_bump_of_requirements_in_alone_fails_and_names_the_pin(repo: Path) -> None:
    _edit(repo / "requirements.in", "\nlocust==2.37.14\n", "\nlocust==2.38.0\n")
    problems = lock_check.check(repo)
    assert len(problems) == 1
    assert re.search(
        r"requirements\.in:\d+ locust==2\.38\.0: requirements\.lock:\d+ pins 2\.37\.14", problems[0]
    )


def test_a_new_and_a_removed_dependency_are_both_seen(repo: Path) -> None:
    _edit(repo / "requirements.in", "\noras\n", "\nhttpx-nonexistent-package\n")
    problems = lock_check.check(repo)
    assert any("httpx-nonexistent-package: not in requirements.lock" in p for p in problems)
    assert any("oras==" in p and "no longer names it" in p for p in problems), problems


def test_an_override_the_lock_does_not_hold_fails(repo: Path) -> None:
    _edit(repo / "requirements.overrides", "protobuf==4.25.8", "protobuf==4.25.9")
    assert any("requirements.overrides" in p and "pins 4.25.8" in p for p in lock_check.check(repo))


def test_a_pin_without_hash_and_a_lock_compiled_another_way_fail(repo: Path) -> None:
    lock = repo / "requirements.lock"
    text = lock.read_text()
    pin = re.search(r"^tfx==1\.16\.0 \\\n((?:    --hash=\S+(?: \\)?\n)+)", text, re.M)
    assert pin
    lock.write_text(
        text.replace(pin.group(0), "tfx==1.16.0\n", 1).replace(
            "--python-version 3.10", "--python-version 3.11", 1
        )
    )
    problems = lock_check.check(repo)
    assert any("tfx==1.16.0 has no hash" in p for p in problems), problems
    assert any("lock header" in p and "--python-version 3.11" in p for p in problems), problems


def test_the_command_says_what_to_run(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lock_check.main(repo) == 0
    _edit(repo / "requirements.in", "\nlocust==2.37.14\n", "\nlocust==2.38.0\n")
    assert lock_check.main(repo) == 1
    err = capsys.readouterr().err
    assert "locust==2.38.0" in err and "Run `make lock` and commit requirements.lock" in err


def test_make_test_runs_the_lock_check() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe and "lock-check" in recipe.group(1)
    rule = re.search(r"^lock-check:.*\n\t(.*)", makefile, re.M)
    assert rule and rule.group(1).strip() == "$(BIN)/python -m tools.lock_check"
