"""Workflow inputs reach make recipes as data, never as make code.

make expands `$(shell ...)` inside a variable given on the command line (or from the
environment) wherever it is referenced, and when it exports a command-line variable to a recipe.
The Makefile turns every input-carrying variable into its literal text; these tests plant the
injection from issue 10 in each target a workflow calls with an input, dry-run and for real.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.paths import REPO_ROOT


def make(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """make in the repository; env values of None are removed from the environment."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in merged.items() if v is not None},
    )


@pytest.mark.parametrize(
    "target,var,extra",
    [
        ("promote", "VERSION", ["TO=prod", "FROM=staging"]),
        ("promote", "TO", ["FROM=staging"]),
        ("promote", "SUMMARY", ["TO=dev"]),
        ("rollback", "ENV", []),
        ("release-commit", "ENV", []),
        ("release-commit", "SRC", ["ENV=dev"]),
        ("promotion-pr", "FROM", ["TO=staging"]),
        ("gate-loadtest", "URL", ["ENV=staging"]),
    ],
)
def test_a_make_expression_in_an_input_runs_nothing_in_a_dry_run(
    tmp_path: Path, target: str, var: str, extra: list[str]
) -> None:
    pwned = tmp_path / "pwned"
    payload = f"$(shell touch {pwned})"
    make("-n", target, *extra, f"{var}={payload}")
    make("-n", target, *extra, env={var: payload})
    assert not pwned.exists(), f"make expanded {var} in `make -n {target}`"


@pytest.mark.parametrize("how", ["command line", "environment"])
def test_a_make_expression_in_the_version_is_refused_and_runs_nothing(
    tmp_path: Path, how: str
) -> None:
    pwned = tmp_path / "pwned"
    payload = f"$(shell touch {pwned})"
    out = (
        make("check-version", f"VERSION={payload}")
        if how == "command line"
        else make("check-version", env={"VERSION": payload})
    )
    assert out.returncode == 2
    assert "VERSION must be a model version (digits only" in out.stderr
    assert payload in out.stderr  # shown as the literal text it is
    assert not pwned.exists()


def test_a_make_expression_in_an_environment_name_runs_nothing(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    out = make("release-commit", f"ENV=$(shell touch {pwned})")
    assert out.returncode == 2 and "not an environment name" in out.stderr
    assert not pwned.exists()


@pytest.mark.parametrize(
    "version,ok",
    [
        ("1795487427", True),
        ("7", True),
        ("", False),
        ("12a", False),
        ("-1", False),
        ("1 2", False),
        ("1;touch x", False),
        ("\uff11\uff12", False),
    ],
)
def test_the_version_is_digits_only(version: str, ok: bool) -> None:
    out = make("check-version", f"VERSION={version}")
    assert (out.returncode == 0) is ok, out.stderr


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in for .venv/bin/mlops that records its arguments, one per line."""
    log = tmp_path / "argv"
    stub = tmp_path / "mlops"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\n")
    stub.chmod(0o755)
    return stub, log


@pytest.mark.parametrize(
    "args,env,expected",
    [
        (
            ["TO=dev", "SUMMARY=build/dev/run_summary.json"],
            {},
            ["promote", "--to", "dev", "--summary", "build/dev/run_summary.json"],
        ),
        (["FROM=dev", "TO=staging"], {}, ["promote", "--from", "dev", "--to", "staging"]),
        (
            ["FROM=staging", "TO=prod"],
            {"VERSION": "1795487427"},
            ["promote", "--from", "staging", "--to", "prod", "--expect-version", "1795487427"],
        ),
        (["TO=dev", "OK_IF_CURRENT=1"], {}, ["promote", "--to", "dev", "--ok-if-current"]),
    ],
)
def test_promote_passes_exactly_the_given_values_to_mlops(
    recorder, args: list[str], env: dict[str, str], expected: list[str]
) -> None:
    stub, log = recorder
    unset = {name: None for name in ("VERSION", "FROM", "TO", "SUMMARY", "OK_IF_CURRENT")}
    out = make("promote", *args, f"MLOPS={stub}", env={**unset, **env})
    assert out.returncode == 0, out.stderr
    assert log.read_text().splitlines() == expected


def test_promote_without_a_target_says_what_is_missing(recorder) -> None:
    stub, log = recorder
    out = make("promote", f"MLOPS={stub}", env={"TO": None})
    assert out.returncode != 0 and "TO is required" in out.stderr
    assert not log.exists()
