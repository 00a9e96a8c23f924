"""The template as committed, for tests that seed a fresh `origin` with it.

A checkout is more than its commit: `make demo` leaves an untracked
`environments/dev/release.yaml` (pointing at `build/dev/model_store/...`, which exists on no other
machine) and manifests, and a person may have edited tracked files. A flow seeded from the
working tree would start from that local state; these helpers copy HEAD's tree instead.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

# Never part of a seed: the tests themselves, and any build output that was committed by mistake.
SKIPPED = ("tests/", "build/")


def write_committed_tree(repo: Path, dest: Path, skip: tuple[str, ...] = SKIPPED) -> list[str]:
    """Write HEAD's files of `repo` (content and executable bit as committed) into `dest`.

    Untracked files and uncommitted edits of tracked files are left out: the seed is exactly
    what a clone of the commit would hold. Returns the paths written.
    """
    archive = subprocess.run(
        ["git", "archive", "--format=tar", "HEAD"], cwd=repo, check=True, capture_output=True
    ).stdout
    written = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.startswith(skip):
                continue
            tar.extract(member, dest, filter="data")
            written.append(member.name)
    return written


def tracked_files(repo: Path, items: tuple[str, ...]) -> list[str]:
    """What `git ls-files` lists under `items` (files or folders): tracked files only, so a
    file a person or `make demo` left untracked never reaches a seed."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *items], cwd=repo, check=True, capture_output=True
    ).stdout.decode()
    return [path for path in listed.split("\0") if path and (repo / path).is_file()]


def write_tracked_files(repo: Path, dest: Path, items: tuple[str, ...]) -> list[str]:
    """Copy the tracked files under `items` (as in the working tree, executable bit kept)."""
    written = tracked_files(repo, items)
    for path in written:
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / path, target)
    return written
