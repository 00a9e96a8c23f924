"""Write the plan's files: only on a clean working tree, only what differs, all or nothing.

Everything `mlops init` changes must be one `git diff` away, so it refuses a tree with
uncommitted changes (unless --force). Each file is compared first and written only when its text
differs, so a second `init` with the same arguments changes nothing; every file is rendered
before the first one is written, so a bad input never leaves half a project behind.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.errors import ConfigError


def uncommitted(root: Path) -> list[str]:
    """Paths `git status` reports as changed or untracked under `root` (ignored ones excluded)."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=all"],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise ConfigError("mlops init: git is not installed; it needs a git checkout") from None
    if result.returncode != 0:
        raise ConfigError(
            f"{root}: not a git working tree ({result.stderr.strip()}); `mlops init` writes "
            f"only where its changes are one `git diff` away"
        )
    return [line[3:] for line in result.stdout.splitlines() if line.strip()]


def check_clean(root: Path, force: bool) -> None:
    if force:
        return
    changed = uncommitted(root)
    if changed:
        shown = ", ".join(changed[:5]) + (
            f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        )
        raise ConfigError(
            f"{root}: uncommitted changes ({shown}); commit or stash them so init's changes "
            f"stay one `git diff` away, or pass --force"
        )


def write(root: Path, files: dict[str, str]) -> list[str]:
    """Write each relative path's text where it differs; the paths actually changed."""
    changed = []
    for relative, text in files.items():
        path = root / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(relative)
    return changed
