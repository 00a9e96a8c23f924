"""The template as committed, for tests that seed a fresh `origin` with it.

A checkout is more than its commit: `make demo` leaves an untracked
`environments/dev/release.yaml` (pointing at `build/dev/model_store/...`, which exists on no other
machine) and manifests, and a person may have edited tracked files. A flow seeded from the
working tree would start from that local state; these helpers copy HEAD's tree instead.
"""

from __future__ import annotations

import io
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
