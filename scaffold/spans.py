"""Which span each row belongs to: by a date column's period, by an existing span-N layout, or
all in one span.

Spans are numbered 1..N in time order, as the pipeline's `span-{SPAN}` input pattern expects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from scaffold.table import Table, parse_time

PERIODS = ("day", "month", "year")
_SPAN_DIR = re.compile(r"^span-(\d+)$")


@dataclass(frozen=True)
class Spans:
    """Span number per row, each span's period label, and how they were decided."""

    of_row: tuple[int, ...]
    labels: tuple[str, ...]
    how: str

    @property
    def count(self) -> int:
        return len(self.labels)

    def sizes(self) -> list[int]:
        return [self.of_row.count(n) for n in range(1, self.count + 1)]


def _period_key(text: str, period: str) -> str:
    moment = parse_time(text)
    assert moment is not None
    return moment.strftime({"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[period])


def by_column(table: Table, column: str, period: str) -> Spans:
    """One span per period of `column`; every value must parse as a date or timestamp."""
    if period not in PERIODS:
        raise ConfigError(f"--period {period!r}: expected one of {', '.join(PERIODS)}")
    values = table.column(column, "--span-by").values
    for row, value in enumerate(values, start=2):
        if value is None or parse_time(value) is None:
            raise ConfigError(
                f"{table.source}: --span-by column {column!r}: value {value or ''!r} (line "
                f"{row}) is not a date (YYYY-MM-DD) or timestamp (YYYY-MM-DD HH:MM[:SS]); "
                f"every row needs one to be placed in a span"
            )
    keys = [_period_key(v, period) for v in values if v is not None]
    labels = tuple(sorted(set(keys)))
    number = {key: i for i, key in enumerate(labels, start=1)}
    return Spans(tuple(number[k] for k in keys), labels, f"by {column}, one span per {period}")


def one_span(table: Table) -> Spans:
    return Spans((1,) * table.rows, ("all rows",), "no --span-by")


def from_layout(table: Table) -> Spans:
    """The span numbers of an existing span-N layout (read_tables recorded them per row)."""
    assert table.row_spans is not None
    numbers = sorted(set(table.row_spans))
    renumber = {n: i for i, n in enumerate(numbers, start=1)}
    return Spans(
        tuple(renumber[n] for n in table.row_spans),
        tuple(f"span-{n}" for n in numbers),
        "the existing span-N folders",
    )


def layout_files(folder: Path) -> tuple[list[Path], list[int]]:
    """The CSV files of a folder of span-N/ subfolders, with each file's span number."""
    found: list[tuple[int, Path]] = []
    for child in sorted(folder.iterdir()):
        match = _SPAN_DIR.match(child.name)
        if child.is_dir() and match:
            found.extend((int(match.group(1)), f) for f in sorted(child.glob("*.csv")))
    if not found:
        raise ConfigError(
            f"--data {folder}: a folder must hold span-N/ subfolders with CSV files; found none"
        )
    found.sort()
    return [f for _, f in found], [n for n, _ in found]
