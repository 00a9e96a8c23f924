"""GitHub Actions job summaries: Markdown appended to $GITHUB_STEP_SUMMARY when it is set."""

from __future__ import annotations

import os


def append(markdown: str) -> None:
    """A no-op outside GitHub Actions, so every command can call it unconditionally."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a") as f:
            f.write(markdown.rstrip("\n") + "\n\n")
