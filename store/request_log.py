"""The request-log store: live request rows sampled from serving, as JSON lines in a folder.

The request logger (serving/request_logger.py) appends; `mlops monitor` reads the newest rows.
One line per row: the configured fields only (monitoring.request_log.fields), each a list of
values as the request carried them (bytes as UTF-8 text), plus `_t`, the time it was logged.
The current file is `requests.jsonl`; at `max_file_bytes` it is renamed to
`requests-<nanoseconds>.jsonl`, and the oldest rotated files go beyond `max_files`, so the store
never holds more than about max_files x max_file_bytes.

The store is a folder, an OCI registry repository (`oci://REGISTRY/REPOSITORY`,
store/request_log_registry.py) or a bucket (`gs://BUCKET/PATH`, store/request_log_bucket.py):
remotely the folder is the logger's local spool, each rotated file is published (`Publisher`)
and then removed from the spool, and `mlops monitor` pulls the newest files. Any other URI is
refused when the config is loaded (core.uris.request_log_store_problem).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from core.errors import ConfigError
from core.uris import OCI

CURRENT = "requests.jsonl"
PREFIX = "requests-"
TIME = "_t"
TAG = re.compile(r"^requests-[0-9]{20}$")  # a rotated file's name without .jsonl
BUCKETS = ("gs://", "ram://")  # ram://: TensorFlow's in-memory filesystem, for tests
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
    oci:// or gs:// store is pulled from its registry or bucket (`open_remote`)."""
    if not str(folder):
        raise ConfigError(
            f"{SETTING} is empty: sampling is off for this environment, so "
            "there are no live requests to compare"
        )
    if str(folder).startswith((OCI, *BUCKETS)):
        return open_remote(str(folder)).read_window(limit)
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


class Remote(Protocol):
    """A request-log store elsewhere: a registry repository or a bucket folder."""

    uri: str

    def files(self) -> list[str]: ...
    def publish_file(self, path: Path) -> str: ...
    def prune(self, keep: int) -> int: ...
    def read_window(self, limit: int) -> Window: ...


def open_remote(uri: str) -> Remote:
    """The remote store `uri` names (imported here, so the CLI starts without either client)."""
    if uri.startswith(BUCKETS):
        from store.request_log_bucket import RequestLogBucket

        return RequestLogBucket(uri)
    from store.request_log_registry import RequestLogRegistry

    return RequestLogRegistry(uri)


class Publisher:
    """Publishes the spool's rotated files to the remote store, oldest first, then removes them.

    Run by the request logger off its request path. A failure (store down, credentials
    refused, a delete the store does not allow) is counted and returned as a sentence, never
    raised: the files stay in the spool, bounded by its rotation rules, and the next rotation
    tries again.
    """

    def __init__(self, uri: str, spool: Path, max_files: int) -> None:
        self.uri, self.spool, self.max_files = uri, Path(spool), max_files
        self.counts = {"published": 0, "publish_failures": 0, "remote_deleted": 0}
        self._remote: Remote | None = None

    def pending(self) -> list[Path]:
        return _rotated(self.spool)

    def publish_pending(self) -> str:
        """Publish what the spool holds; "" when all went, else why not (also counted)."""
        try:
            if self._remote is None:
                self._remote = open_remote(self.uri)
            published = 0
            for path in self.pending():
                try:
                    self._remote.publish_file(path)
                except FileNotFoundError:  # the spool's rotation dropped it meanwhile
                    continue
                path.unlink(missing_ok=True)
                self.counts["published"] += 1
                published += 1
            if published:
                self.counts["remote_deleted"] += self._remote.prune(self.max_files)
            return ""
        except Exception as exc:  # counted and reported: never a failed sample
            self.counts["publish_failures"] += 1
            return f"cannot publish to {self.uri}: {type(exc).__name__}: {exc}"
