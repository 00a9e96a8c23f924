"""`make test` and `make test-fast` run the suite on JOBS pytest-xdist workers, a whole test file
per worker; JOBS=1 runs it serially in one process, and a JOBS that is not a count is refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.paths import REPO_ROOT


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    """A stand-in for .venv/bin whose python records its arguments (one a line) and exits 0."""
    folder = tmp_path / "bin"
    folder.mkdir()
    stub = folder / "python"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {tmp_path / 'argv'}\n")
    stub.chmod(0o755)
    return folder


def _make(target: str, bin_dir: Path, *args: str, path: str | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("JOBS", "MAKEFLAGS", "MFLAGS")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), target, f"BIN={bin_dir}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def _fake_nproc(tmp_path: Path, count: int) -> str:
    """PATH with an `nproc` that answers `count` ahead of the real one."""
    folder = tmp_path / "nproc"
    folder.mkdir()
    (folder / "nproc").write_text(f"#!/bin/sh\necho {count}\n")
    (folder / "nproc").chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


@pytest.mark.parametrize(
    "args,expected",
    [
        (
            ["JOBS=3"],
            ["-n", "3", "--dist", "loadfile", "--no-loadscope-reorder", "--longest-first"],
        ),
        (["JOBS=1"], ["-n", "0"]),  # serial, in this process: no worker at all
    ],
)
def test_test_fast_runs_pytest_on_jobs_workers_a_file_per_worker(
    tmp_path: Path, bin_dir: Path, args: list[str], expected: list[str]
) -> None:
    out = _make("test-fast", bin_dir, *args)
    assert out.returncode == 0, out.stderr
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv == ["-m", "pytest", "-p", "tests.support.shard", *expected, "-m", "not slow"]


@pytest.mark.parametrize(("cpus", "workers"), [(1, "2"), (2, "2"), (6, "6")])
def test_the_default_is_one_worker_per_cpu_and_at_least_two(
    tmp_path: Path, bin_dir: Path, cpus: int, workers: str
) -> None:
    out = _make("test-fast", bin_dir, path=_fake_nproc(tmp_path, cpus))
    assert out.returncode == 0, out.stderr
    argv = (tmp_path / "argv").read_text().splitlines()
    assert argv[argv.index("-n") + 1] == workers


@pytest.mark.parametrize("jobs", ["0", "", "two", "-2", "2 3", "$(shell touch PWNED)"])
def test_a_jobs_that_is_not_a_count_is_refused_before_pytest_runs(
    tmp_path: Path, bin_dir: Path, jobs: str
) -> None:
    jobs = jobs.replace("PWNED", str(tmp_path / "pwned"))
    out = _make("test-fast", bin_dir, f"JOBS={jobs}")
    assert out.returncode == 2, out.stderr
    assert f"JOBS must be a number of test workers, 1 or more (JOBS=1: serial), got '{jobs}'" in (
        out.stderr
    )
    assert not (tmp_path / "argv").exists()
    assert not (tmp_path / "pwned").exists()  # shown as its literal text, never run by make
