"""Drift thresholds per feature, from how much the data's own spans already differ.

With several spans, each feature's threshold is its largest change between consecutive spans
(measured as the drift gate measures it) times a margin, so a normal new span passes and a
marked shift does not, and never below the sampling noise of spans that small. With one span
there is nothing to measure: a default, flagged for review.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ct.drift import l_infinity, quantile_js
from scaffold.roles import Role
from scaffold.spans import Spans
from scaffold.table import Table

MARGIN = 1.5
DEFAULT_NUMERIC = 0.05
DEFAULT_CATEGORICAL = 0.15
MIN_THRESHOLD = 0.02
MAX_THRESHOLD = 0.5


@dataclass(frozen=True)
class DriftThreshold:
    feature: str
    measure: str
    threshold: float
    # The largest change seen between the data's own spans (None: one span, a default).
    observed: float | None


def _values(table: Table, column: str, spans: Spans, span: int) -> list[str]:
    values = table.columns[column].values
    return [v for v, s in zip(values, spans.of_row, strict=True) if s == span and v is not None]


def _change(numeric: bool, now: list[str], before: list[str]) -> float:
    if numeric:
        return quantile_js(np.array([float(v) for v in now]), np.array([float(v) for v in before]))
    return l_infinity(now, before)


def sampling_noise(numeric: bool, rows: int) -> float:
    """About how far two samples of `rows` rows from one distribution already differ.

    Small spans differ by chance: a share estimated on n rows moves by about sqrt(0.25 / n), and
    the 20-bin divergence of two samples grows like 20 / n. A threshold below this would stop
    every normal span of a few hundred rows.
    """
    if rows <= 0:
        return MAX_THRESHOLD
    return 20 / rows if numeric else 3 * math.sqrt(0.5 / rows)


def _bounded(value: float) -> float:
    return round(min(MAX_THRESHOLD, max(MIN_THRESHOLD, value)), 3)


def draft_thresholds(
    table: Table, roles: list[Role], spans: Spans, label: str, label_numeric: bool
) -> list[DriftThreshold]:
    """One threshold per feature the model uses, then the label's (`label_numeric`: regression;
    a class label is measured as shares of its values)."""
    wanted = [
        (r.column, r.role in ("zscore", "one_hot"))
        for r in roles
        if r.role in ("zscore", "one_hot", "vocabulary")
    ]
    wanted.append((label, label_numeric))
    out = []
    for column, numeric in wanted:
        measure = "jensen_shannon" if numeric else "l_infinity"
        if spans.count < 2:
            default = DEFAULT_NUMERIC if numeric else DEFAULT_CATEGORICAL
            out.append(DriftThreshold(column, measure, default, None))
            continue
        changes = [
            _change(numeric, _values(table, column, spans, n), _values(table, column, spans, n - 1))
            for n in range(2, spans.count + 1)
        ]
        observed = max(changes)
        noise = sampling_noise(numeric, min(spans.sizes()))
        threshold = _bounded(max(observed * MARGIN, noise))
        out.append(DriftThreshold(column, measure, threshold, round(observed, 4)))
    return out
