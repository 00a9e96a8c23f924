"""`make init-check TASK=...`: what a person does to check that the template becomes theirs.

A scratch copy of the committed tree (tests included), one of the generated datasets
(tests/support/task_data.py), `mlops init` on it, a commit, then `make test-fast` in that
project with this virtualenv. Exits non-zero naming the step that failed; the scratch folder is
kept then, for a look, and removed after a pass unless --keep.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.support.scratch import commit, committed_copy, env
from tests.support.task_data import TASKS

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)


class StepFailed(Exception):
    pass


def step(name: str, cmd: list[str], cwd: Path, root: Path) -> None:
    """Run one command of the check in `cwd`, its output streamed, with `root`'s packages first."""
    print(f"init-check: {name}: {' '.join(cmd)}", flush=True)
    if subprocess.run(cmd, cwd=cwd, env=env(root)).returncode != 0:
        raise StepFailed(name)


def check(task: str, work: Path, jobs: str | None) -> None:
    root, data = work / "project", work / f"{task}.csv"
    python = str(VENV / "bin" / "python")
    print(f"init-check: scratch copy of {REPO} HEAD in {root}", flush=True)
    try:
        committed_copy(REPO, root, skip=("build/",), free_ports=False)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"init-check: scratch copy: {e}", file=sys.stderr)
        raise StepFailed("scratch copy") from e
    step("generate data", [python, "-m", "tests.support.task_data", task, str(data)], root, root)
    step("mlops init", [python, "-m", "mlops.cli", *TASKS[task].init_args(data)], root, root)
    try:
        commit(root, f"mlops init ({task})")
    except subprocess.CalledProcessError as e:
        raise StepFailed("commit") from e
    make = ["make", "--no-print-directory", "test-fast", f"VENV={VENV}"]
    step("make test-fast", make + ([f"JOBS={jobs}"] if jobs else []), root, root)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--dir", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder after a pass")
    parser.add_argument("--jobs", help="test-fast's JOBS (default: its own)")
    args = parser.parse_args(argv)
    if not (VENV / ".installed").is_file() or sys.prefix == sys.base_prefix:
        print(f"init-check: {VENV} is not a set-up virtualenv: run `make setup`", file=sys.stderr)
        return 2
    work = args.dir or Path(tempfile.mkdtemp(prefix=f"init-check-{args.task}-"))
    if args.dir and args.dir.exists() and any(args.dir.iterdir()):
        print(f"init-check: {args.dir} is not empty", file=sys.stderr)
        return 2
    started = time.monotonic()
    try:
        check(args.task, work.resolve(), args.jobs)
    except StepFailed as failed:
        seconds = time.monotonic() - started
        print(
            f"init-check {args.task}: FAILED at step '{failed}' after {seconds:.0f} s;"
            f" the project is kept in {work / 'project'}",
            file=sys.stderr,
        )
        return 1
    print(f"init-check {args.task}: PASS in {time.monotonic() - started:.0f} s")
    if not args.keep:
        shutil.rmtree(work)
    else:
        print(f"init-check: the project is in {work / 'project'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
