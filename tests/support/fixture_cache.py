"""A disk cache for the session fixtures that cost tens of seconds (the Transform run, the short
training run), keyed by everything their result depends on.

Both xdist workers need the same Transform run, and so does the next `make test-fast` on an
unchanged checkout: one builds it, under a file lock, and the others read it. The key covers the
inputs (the rows, the probes), the code that turns them into the result (every file of the
`core`, `store` and `models` packages, the test helpers and fixtures), the training settings and
the library versions, so an edit to any of them, a planted fault included, builds afresh.

MLOPS_TEST_CACHE=0 turns it off; a mutation run (mutmut's MUTANT_UNDER_TEST) never uses it, since
mutmut switches the code under test at run time without changing a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from core.paths import REPO_ROOT

ROOT = Path(os.environ.get("MLOPS_TEST_CACHE_DIR", REPO_ROOT / "build" / "test-cache"))
COMPLETE = ".complete"  # written last: an entry without it is a build that died half-way
KEEP = 2  # entries kept per fixture name: the current one and one before it

LIBRARIES = ("tensorflow", "tensorflow-transform", "tfx-bsl", "tf-keras", "numpy", "apache-beam")
PACKAGES = ("core", "store", "models")
HELPERS = (
    REPO_ROOT / "tests" / "conftest.py",
    REPO_ROOT / "tests" / "support" / "tfx_data.py",
    Path(__file__),
)


def enabled() -> bool:
    return os.environ.get("MLOPS_TEST_CACHE", "1") != "0" and "MUTANT_UNDER_TEST" not in os.environ


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        else:
            yield path


def key(*values: object, files: Iterable[Path] = ()) -> str:
    """A digest of `values` (by repr), of the code the fixtures run and of `files`' bytes."""
    digest = hashlib.sha256(sys.version.encode())
    for name in LIBRARIES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            digest.update(f"{name}=={importlib.metadata.version(name)}\n".encode())
    code = [REPO_ROOT / p for p in PACKAGES]
    for path in _files([*code, *HELPERS, *files]):
        digest.update(
            str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode()
        )
        digest.update(path.read_bytes())
    for value in values:
        digest.update(repr(value).encode())
    return digest.hexdigest()[:20]


def entry(name: str, digest: str, build: Callable[[Path], object]) -> Path:
    """The folder of `name` at `digest` (ROOT/name/digest), built by `build(folder)` if no
    complete one exists.

    One process builds while the others wait on the lock; the build goes to a scratch folder
    that is renamed into place once whole, so a reader never sees half of one."""
    home = ROOT / name
    home.mkdir(parents=True, exist_ok=True)
    final = home / digest
    with open(ROOT / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / COMPLETE).is_file():
            os.utime(final)
            return final
        scratch = home / f".{digest}.{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        scratch.mkdir()
        try:
            build(scratch)
            (scratch / COMPLETE).write_text(digest)
            scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        _prune(home)
    return final


def _prune(home: Path) -> None:
    """Keep the newest KEEP entries of one fixture: each edit of the code makes a new one."""
    entries = [p for p in home.iterdir() if not p.name.startswith(".")]
    for old in sorted(entries, key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
