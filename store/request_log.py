"""The request-log store: live request rows sampled from serving, as JSON lines in a folder.

The request logger (serving/request_logger.py) appends; `mlops monitor` reads the newest rows.
One line per row: the configured fields only (monitoring.request_log.fields), each a list of
values as the request carried them (bytes as UTF-8 text), plus `_t`, the time it was logged.
The current file is `requests.jsonl`; at `max_file_bytes` it is renamed to
`requests-<nanoseconds>.jsonl`, and the oldest rotated files go beyond `max_files`, so the store
never holds more than about max_files x max_file_bytes.

The store is a folder, or an OCI registry repository (`oci://REGISTRY/REPOSITORY`,
store/request_log_registry.py): there the folder is the logger's local spool, each rotated file
is published as one artifact and then removed from the spool, and `mlops monitor` pulls the
newest artifacts. Any other URI is refused when the config is loaded
(core.uris.request_log_store_problem).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.uris import OCI

CURRENT = "requests.jsonl"
PREFIX = "requests-"
TIME = "_t"
SETTING = "monitoring.request_log.store"


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
        self.rotations = 0  # how many files were closed: a publisher acts on a change
        self.dropped_files = 0  # rotated files removed for room (unpublished, in a spool)
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

    def rotate(self) -> int:
        """Close the current file; the number of the oldest rotated files removed for room."""
        current = self.folder / CURRENT
        if current.exists():
            os.replace(current, self.folder / f"{PREFIX}{time.time_ns():020d}.jsonl")
        rotated = _rotated(self.folder)
        dropped = rotated[: max(0, len(rotated) - (self.max_files - 1))]
        for old in dropped:
            old.unlink(missing_ok=True)
        self.rotations += 1
        self.dropped_files += len(dropped)
        return len(dropped)


@dataclass
class Window:
    """The newest rows of the store, and what could not be read."""

    rows: list[dict[str, Any]]
    skipped: int  # lines that were not a JSON object (counted, never fatal)
    files: int
    first_problem: str = ""


@dataclass
class Lines:
    """The rows of one file's text, and the lines that were not rows."""

    rows: list[dict[str, Any]]
    skipped: int
    first_problem: str


def parse_lines(text: str, where: str) -> Lines:
    """Rows of one file's text; a line that is not a JSON object is skipped and counted."""
    rows: list[dict[str, Any]] = []
    skipped, problem = 0, ""
    for number, line in enumerate(text.splitlines(), start=1):
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
            problem = problem or f"{where}:{number}: {why}"
            continue
        rows.append(row)
    return Lines(rows, skipped, problem)


def newest(files: Iterable[Lines], limit: int, count: int) -> Window:
    """The newest `limit` rows of `count` files given newest first, reading only what it needs."""
    rows: list[dict[str, Any]] = []
    skipped, problem = 0, ""
    for lines in files:
        skipped += lines.skipped
        problem = problem or lines.first_problem
        rows = lines.rows[-(limit - len(rows)) :] + rows
        if len(rows) >= limit:
            break
    return Window(rows[-limit:], skipped, count, problem)


def read_window(folder: str | Path, limit: int) -> Window:
    """The newest `limit` rows, newest files first; a missing or unreadable store is a
    ConfigError (exit 2) naming the folder, a malformed line is skipped and counted. An
    oci:// store is pulled from its registry (store/request_log_registry.py)."""
    if not str(folder):
        raise ConfigError(
            f"{SETTING} is empty: sampling is off for this environment, so "
            "there are no live requests to compare"
        )
    if str(folder).startswith(OCI):
        from store.request_log_registry import RequestLogRegistry

        return RequestLogRegistry(str(folder)).read_window(limit)
    where = Path(folder)
    if not where.is_dir():
        raise ConfigError(
            f"request-log store {where}: no such folder ({SETTING}); "
            "is the request logger running and sampling on?"
        )
    files = [where / CURRENT] if (where / CURRENT).exists() else []
    files += list(reversed(_rotated(where)))

    def parsed() -> Iterator[Lines]:
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"request-log store {path}: unreadable: {exc}") from None
            yield parse_lines(text, str(path))

    return newest(parsed(), limit, len(files))
