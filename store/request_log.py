"""The request-log store: live request rows sampled from serving, as JSON lines in a folder.

The request logger (serving/request_logger.py) appends; `mlops monitor` reads the newest rows.
One line per row: the configured fields only (monitoring.request_log.fields), each a list of
values as the request carried them (bytes as UTF-8 text), plus `_t`, the time it was logged.
The current file is `requests.jsonl`; at `max_file_bytes` it is renamed to
`requests-<nanoseconds>.jsonl`, and the oldest rotated files go beyond `max_files`, so the store
never holds more than about max_files x max_file_bytes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError

CURRENT = "requests.jsonl"
PREFIX = "requests-"
TIME = "_t"


def _rotated(folder: Path) -> list[Path]:
    """Rotated files, oldest first (their names carry the rotation time)."""
    return sorted(p for p in folder.glob(f"{PREFIX}*.jsonl") if p.is_file())


def keep_fields(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """Only the configured fields: a row never carries what the config did not name."""
    return {name: row[name] for name in fields if name in row}


class Writer:
    """Appends rows, rotating and bounding the folder; one writer per folder at a time."""

    def __init__(
        self, folder: Path, fields: list[str], max_file_bytes: int, max_files: int
    ) -> None:
        self.folder, self.fields = Path(folder), list(fields)
        self.max_file_bytes, self.max_files = max_file_bytes, max_files
        self.folder.mkdir(parents=True, exist_ok=True)

    def append(self, rows: Iterable[Mapping[str, Any]]) -> int:
        lines = [
            json.dumps({TIME: round(time.time(), 3), **keep_fields(r, self.fields)}) + "\n"
            for r in rows
        ]
        if not lines:
            return 0
        current = self.folder / CURRENT
        self.folder.mkdir(parents=True, exist_ok=True)  # emptied by hand while we run
        with current.open("a", encoding="utf-8") as f:
            f.write("".join(lines))
        if current.stat().st_size >= self.max_file_bytes:
            self.rotate()
        return len(lines)

    def rotate(self) -> None:
        current = self.folder / CURRENT
        if current.exists():
            os.replace(current, self.folder / f"{PREFIX}{time.time_ns():020d}.jsonl")
        rotated = _rotated(self.folder)
        for old in rotated[: max(0, len(rotated) - (self.max_files - 1))]:
            old.unlink(missing_ok=True)


@dataclass
class Window:
    """The newest rows of the store, and what could not be read."""

    rows: list[dict[str, Any]]
    skipped: int  # lines that were not a JSON object (counted, never fatal)
    files: int
    first_problem: str = ""


def read_window(folder: str | Path, limit: int) -> Window:
    """The newest `limit` rows, newest files first; a missing or unreadable store is a
    ConfigError (exit 2) naming the folder, a malformed line is skipped and counted."""
    where = Path(folder)
    if not str(folder):
        raise ConfigError(
            "monitoring.request_log.store is empty: sampling is off for this environment, so "
            "there are no live requests to compare"
        )
    if not where.is_dir():
        raise ConfigError(
            f"request-log store {where}: no such folder (monitoring.request_log.store); "
            "is the request logger running and sampling on?"
        )
    files = [where / CURRENT] if (where / CURRENT).exists() else []
    files += list(reversed(_rotated(where)))
    rows: list[dict[str, Any]] = []
    skipped, problem = 0, ""
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"request-log store {path}: unreadable: {exc}") from None
        batch = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                row, why = None, f"not JSON ({exc.msg})"
            else:
                why = "not a JSON object"
            if not isinstance(row, dict):
                skipped += 1
                problem = problem or f"{path}:{number}: {why}"
                continue
            batch.append(row)
        rows = batch[-(limit - len(rows)) :] + rows if len(rows) < limit else rows
        if len(rows) >= limit:
            break
    return Window(rows[-limit:], skipped, len(files), problem)
