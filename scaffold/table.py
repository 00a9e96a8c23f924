"""Read a user's CSV into typed columns, refusing what the pipeline could not ingest.

Every cell is classified once (missing, integer, float, date, timestamp or string); a column's
type is the one kind its values share. A column mixing numbers with words, a row of values where
the header should be, or a name TensorFlow cannot use as a feature key stops here, with the file,
the column and the value in the message.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from core.errors import ConfigError

# A feature key the Transform, the model's inputs and the serving signature all accept.
VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
MISSING_TOKENS = frozenset({"", "na", "nan", "null", "none"})

NUMERIC = ("int", "float")
TEMPORAL = ("date", "timestamp")


def cell_kind(text: str) -> str:
    """missing, int, float, date, timestamp or string."""
    value = text.strip()
    if value.lower() in MISSING_TOKENS:
        return "missing"
    if _INT.match(value):
        return "int"
    if _FLOAT.match(value):
        return "float"
    if _DATE.match(value) and parse_time(value) is not None:
        return "date"
    if _TIMESTAMP.match(value) and parse_time(value) is not None:
        return "timestamp"
    return "string"


def parse_time(text: str) -> datetime | None:
    """A date or an ISO timestamp, or None when it is neither."""
    value = text.strip()
    try:
        if _DATE.match(value):
            return datetime.combine(date.fromisoformat(value), datetime.min.time())
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class Column:
    """One column's raw text per row (None when missing) and the kind its values share."""

    name: str
    kind: str
    values: list[str | None] = field(repr=False)

    def present(self) -> list[str]:
        return [v for v in self.values if v is not None]

    def numbers(self) -> list[float]:
        return [float(v) for v in self.present()]

    @property
    def missing_share(self) -> float:
        return 1 - len(self.present()) / len(self.values) if self.values else 1.0


@dataclass
class Table:
    """The rows of one or more CSV files, by column; `source` is named in every error."""

    source: str
    columns: dict[str, Column]
    rows: int
    # Which input file (an existing span-N layout) each row came from: its span number.
    row_spans: list[int] | None = None

    def column(self, name: str, flag: str = "") -> Column:
        if name not in self.columns:
            where = f"{flag} " if flag else ""
            raise ConfigError(
                f"{self.source}: {where}column {name!r} is not in the header (columns: "
                f"{', '.join(self.columns)})"
            )
        return self.columns[name]


def _column_kind(source: str, name: str, values: list[str | None]) -> str:
    kinds: dict[str, tuple[int, str]] = {}
    for row, value in enumerate(values, start=2):
        if value is None:
            continue
        kind = cell_kind(value)
        kinds.setdefault(kind, (row, value))
    found = set(kinds)
    if not found:
        return "string"
    if found <= {"int"}:
        return "int"
    if found <= {"int", "float"}:
        return "float"
    if found <= {"date"}:
        return "date"
    if found <= {"date", "timestamp"}:
        return "timestamp"
    if found == {"string"}:
        return "string"
    # Words beside numbers or times: name the first value of the less common kind.
    counts = {k: sum(1 for v in values if v is not None and cell_kind(v) == k) for k in found}
    odd = min(found, key=lambda k: (counts[k], kinds[k][0]))
    row, value = kinds[odd]
    others = ", ".join(sorted(found - {odd}))
    raise ConfigError(
        f"{source}: column {name!r}: mixed types: value {value!r} (line {row}) is {odd} "
        f"while the column's other values are {others}; clean the value or leave it empty "
        f"(missing), so the column has one type"
    )


def _check_header(source: str, header: list[str]) -> None:
    if not header or all(not h.strip() for h in header):
        raise ConfigError(f"{source}: no header: the first line is empty")
    looks_like_data = [h for h in header if cell_kind(h) not in ("string", "missing")]
    if looks_like_data:
        raise ConfigError(
            f"{source}: no header: the first line holds values such as {looks_like_data[0]!r}, "
            f"not column names; add a header line naming each column"
        )
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not VALID_NAME.match(name):
            raise ConfigError(
                f"{source}: column {position} {name!r}: not a valid feature name (letters, "
                f"digits and _ only, not starting with a digit); rename it in the header"
            )
        if name in seen:
            raise ConfigError(f"{source}: column {name!r}: appears twice in the header")
        seen.add(name)


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        raise ConfigError(f"--data {path}: no such file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: not a readable UTF-8 CSV file ({exc})") from None
    if not lines:
        raise ConfigError(f"{path}: no header: the file is empty")
    header = [h.strip() for h in lines[0]]
    _check_header(str(path), header)
    body = [r for r in lines[1:] if any(c.strip() for c in r)]
    for line, row in enumerate(lines[1:], start=2):
        if any(c.strip() for c in row) and len(row) != len(header):
            raise ConfigError(
                f"{path}: line {line}: {len(row)} values for {len(header)} columns in the header"
            )
    return header, body


def read_tables(paths: list[Path], spans: list[int] | None = None) -> Table:
    """One table from files sharing a header; `spans` numbers each file's rows."""
    source = str(paths[0]) if len(paths) == 1 else str(paths[0].parent.parent)
    header: list[str] | None = None
    body: list[list[str]] = []
    row_spans: list[int] = []
    for index, path in enumerate(paths):
        this_header, rows = _read_rows(path)
        if header is None:
            header = this_header
        elif this_header != header:
            raise ConfigError(
                f"{path}: header {','.join(this_header)} differs from {paths[0]}'s "
                f"{','.join(header)}; every span must have the same columns"
            )
        body.extend(rows)
        row_spans.extend([spans[index] if spans else 1] * len(rows))
    assert header is not None
    columns = {}
    for position, name in enumerate(header):
        values = [
            None if cell_kind(r[position]) == "missing" else r[position].strip() for r in body
        ]
        columns[name] = Column(name, _column_kind(source, name, values), values)
    return Table(source, columns, len(body), row_spans if spans else None)


def read_csv(path: Path) -> Table:
    return read_tables([path])
