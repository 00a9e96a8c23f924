"""The role of every raw column: how the Transform engineers it, or why the model skips it.

Same vocabulary as models/features.py: z-score for quantities, one-hot for small integer codes,
a vocabulary with OOV buckets for strings, cyclical parts for times, and `unused` with a reason
for identifiers, free text, constants and near-empty columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scaffold.table import Column, Table

# A column missing in more than this share of rows is left out as near-empty.
MAX_MISSING_SHARE = 0.5
# Integers in [0, this) with few distinct values are codes, one-hot encoded.
MAX_ONE_HOT_SIZE = 32
MAX_ONE_HOT_DISTINCT = 20
# Strings: more distinct values than this share of rows (and than MIN_ID_DISTINCT) are ids/text.
ID_DISTINCT_SHARE = 0.5
MIN_ID_DISTINCT = 50
# Strings averaging more words than this are free text.
FREE_TEXT_WORDS = 4
VOCABULARY_SIZE = 100
OOV_BUCKETS = 2
_ID_NAME = re.compile(r"(^id$|_id$|^uuid|_uuid$|^key$)", re.IGNORECASE)
# Integers named like a time and within 1973..2096 as Unix seconds are timestamps.
_TIME_NAME = re.compile(r"(timestamp|_at$|_time$|^time$|epoch)", re.IGNORECASE)
UNIX_SECONDS = (100_000_000, 4_000_000_000)

ROLES = ("zscore", "one_hot", "vocabulary", "cyclical", "unused")


@dataclass(frozen=True)
class Role:
    """What the Transform does with a column; `size` is the one-hot width, `reason` why."""

    column: str
    role: str
    reason: str
    size: int = 0
    # Cyclical parts of a date or timestamp: hour, weekday, month.
    parts: tuple[str, ...] = ()


def _unused(column: Column, reason: str) -> Role:
    return Role(column.name, "unused", reason)


def decide_role(column: Column, rows: int) -> Role:
    """The role of one feature column (the label is not a feature)."""
    present = column.present()
    if column.missing_share > MAX_MISSING_SHARE:
        return _unused(column, f"near-empty: {column.missing_share:.0%} of rows missing")
    distinct = set(present)
    if len(distinct) <= 1:
        return _unused(column, f"constant: one value ({next(iter(distinct), '')!r})")
    if column.kind == "timestamp":
        return Role(
            column.name,
            "cyclical",
            "timestamp: hour, weekday and month as sin/cos",
            parts=("hour", "weekday", "month"),
        )
    if column.kind == "date":
        return Role(
            column.name,
            "cyclical",
            "date: weekday and month as sin/cos",
            parts=("weekday", "month"),
        )
    if column.kind == "int":
        ints = {int(v) for v in present}
        if (
            _TIME_NAME.search(column.name)
            and UNIX_SECONDS[0] <= min(ints) <= max(ints) <= UNIX_SECONDS[1]
        ):
            return Role(
                column.name,
                "cyclical",
                "Unix seconds: hour, weekday and month as sin/cos",
                parts=("hour", "weekday", "month"),
            )
        if _ID_NAME.search(column.name) or (
            len(ints) == len(present) and len(ints) >= MIN_ID_DISTINCT
        ):
            return _unused(column, f"id-like: {len(ints)} distinct integers in {len(present)} rows")
        if len(ints) <= MAX_ONE_HOT_DISTINCT and min(ints) >= 0 and max(ints) < MAX_ONE_HOT_SIZE:
            return Role(
                column.name,
                "one_hot",
                f"integer code: {len(ints)} values in [0, {max(ints)}]",
                size=max(ints) + 1,
            )
        return Role(column.name, "zscore", f"integer quantity: {len(ints)} distinct values")
    if column.kind == "float":
        return Role(column.name, "zscore", "number")
    words = sum(len(v.split()) for v in present) / len(present)
    if words > FREE_TEXT_WORDS:
        return _unused(column, f"free text: {words:.1f} words per value on average")
    if _ID_NAME.search(column.name) or (
        len(distinct) >= MIN_ID_DISTINCT and len(distinct) > ID_DISTINCT_SHARE * len(present)
    ):
        return _unused(column, f"id-like: {len(distinct)} distinct values in {len(present)} rows")
    return Role(
        column.name,
        "vocabulary",
        f"category: {len(distinct)} distinct values, {OOV_BUCKETS} OOV buckets",
    )


def decide_roles(table: Table, label: str) -> list[Role]:
    """Every column but the label, in header order."""
    return [decide_role(c, table.rows) for name, c in table.columns.items() if name != label]
