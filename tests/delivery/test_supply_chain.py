"""The lock pins every file by hash, and setup refuses anything else."""

from __future__ import annotations

import re

from core.paths import REPO_ROOT


def test_every_locked_package_carries_its_hashes() -> None:
    lock = (REPO_ROOT / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2])
    pinned = [e for e in entries if re.match(r"^[A-Za-z0-9_.\[\],-]+==", e)]
    assert len(pinned) > 100
    unhashed = [e.split()[0] for e in pinned if "--hash=sha256:" not in e]
    assert not unhashed, f"no hash in requirements.lock for {unhashed[:5]}: run `make lock`"


def test_setup_requires_the_hashes_and_lock_generates_them() -> None:
    makefile = re.sub(r"\\\n\s*", " ", (REPO_ROOT / "Makefile").read_text())
    install = next(
        x for x in makefile.split("\n\t") if "-r requirements.lock" in x and "uv pip install" in x
    )
    assert "--require-hashes" in install and "--no-deps" in install
    lock = makefile.split("\nlock:", 1)[1].split("\n\n", 1)[0]
    assert "--generate-hashes" in lock
