"""Evaluation slices: the low-cardinality categoricals whose every value has enough rows.

A slice metric measured on a handful of rows is noise, so a column is drafted only when its
rarest value holds at least the minimum slice size in the held-out share.
"""

from __future__ import annotations

from collections import Counter

from scaffold.baseline import HELD_OUT_EVERY
from scaffold.roles import Role
from scaffold.table import Table

MAX_SLICE_VALUES = 10
MIN_SLICE_SIZE = 20
MAX_SLICES = 2


def draft_slices(table: Table, roles: list[Role]) -> list[str]:
    """Up to MAX_SLICES columns, most balanced first."""
    candidates: list[tuple[float, str]] = []
    for role in roles:
        if role.role not in ("one_hot", "vocabulary"):
            continue
        counts = Counter(table.columns[role.column].present())
        if not 2 <= len(counts) <= MAX_SLICE_VALUES:
            continue
        rarest = min(counts.values())
        if rarest // HELD_OUT_EVERY < MIN_SLICE_SIZE:
            continue
        candidates.append((-rarest / max(counts.values()), role.column))
    return [name for _, name in sorted(candidates)[:MAX_SLICES]]
