"""The report's charts: matplotlib figures rendered to inline SVG strings.

SVG text stays text (`svg.fonttype: none`), so a chart is small, selectable, and its labels
can be read by a browser test; a bare `Figure` saved as SVG needs no display and fetches nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

CANDIDATE = "#1f6feb"
BASELINE = "#8b949e"
BAD = "#cf222e"
STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "mlops-report",  # stable ids: the same run renders the same bytes
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


class ChartCache:
    """The last report's charts on disk, each under a hash of what it drew.

    A no-change re-run draws the same histograms again; matplotlib spends most of the report's
    time on them, so an unchanged chart is read back instead. Only the charts the latest report
    used are kept (`prune`), and `folder=None` draws every chart.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.used: set[str] = set()

    def get(self, kind: str, data: object, draw: Callable[[], str]) -> str:
        try:
            key = json.dumps([kind, STYLE, data], sort_keys=True)
        except (TypeError, ValueError):  # not plain data: no key that could not collide
            return draw()
        if self.folder is None:
            return draw()
        name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".svg"
        self.used.add(name)
        path = self.folder / name
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            pass
        svg = draw()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".chart.")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(svg)
            os.replace(tmp, path)
        except OSError:  # a read-only work folder only costs the next run a redraw
            pass
        return svg

    def prune(self) -> None:
        """Drop the charts this report did not use (older runs' data, half-written files)."""
        if self.folder is None or not self.folder.is_dir():
            return
        for path in self.folder.iterdir():
            if path.name not in self.used:
                path.unlink(missing_ok=True)


def _figure(
    size: tuple[float, float], margins: dict[str, float] | None = None
) -> tuple[Figure, Any]:
    """A figure outside pyplot: no global state, no GUI backend. Fixed `margins` (fractions)
    spare the second layout pass a tight bounding box costs (a third of a second per chart on
    a busy machine)."""
    fig = Figure(figsize=size)
    if margins:
        fig.subplots_adjust(**margins)
    return fig, fig.subplots()


def to_svg(fig: Figure, tight: bool = False) -> str:
    """The figure as an `<svg>` element (no XML prolog), scaled to its container's width."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight" if tight else None, metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # Let CSS size the chart: drop the fixed width/height, keep the viewBox.
    head, rest = text.split(">", 1)
    head = " ".join(p for p in head.split(" ") if not p.startswith(("width=", "height=")))
    return f'{head} class="chart">{rest}'


def slice_chart(
    metric: str,
    slices: Sequence[str],
    candidate: Sequence[float | None],
    baseline: Sequence[float | None],
    undefined: dict[str, str],
    bound: float | None = None,
    ceiling: bool = False,
) -> str:
    """Horizontal bars, one row per slice: the candidate, and the baseline where there is one.

    A slice whose metric is undefined gets no bar but the words `undefined (<why>)`, never 0.
    The gate's `bound` is a dashed line labelled `floor` or, for an error such as rmse whose
    axis has no fixed end, `ceiling`.
    """
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure((6.4, 0.9 + 0.28 * max(len(slices), 1)))
        rows = list(range(len(slices)))[::-1]
        have_base = any(b is not None for b in baseline)
        height = 0.4 if have_base else 0.7
        for y, name, value, base in zip(rows, slices, candidate, baseline, strict=True):
            if name in undefined or value is None or not math.isfinite(value):
                why = undefined.get(name, "no value")
                ax.text(0.01, y, f"undefined ({why})", va="center", color=BAD, style="italic")
            else:
                ax.barh(y + (height / 2 if have_base else 0), value, height, color=CANDIDATE)
            if base is not None and math.isfinite(base):
                ax.barh(y - height / 2, base, height, color=BASELINE)
        ax.set_yticks(rows, list(slices))
        ax.set_xlim(0, _axis_end(ceiling, [*candidate, *baseline, bound]))
        ax.set_xlabel(metric)
        handles: list[Any] = [Rectangle((0, 0), 1, 1, color=CANDIDATE)]
        labels = ["candidate"]
        if have_base:
            handles.append(Rectangle((0, 0), 1, 1, color=BASELINE))
            labels.append("baseline")
        if bound is not None:
            handles.append(ax.axvline(bound, color=BAD, linestyle="--", linewidth=1))
            labels.append(f"{'ceiling' if ceiling else 'floor'} {bound:g}")
        ax.legend(handles, labels, loc="lower right", fontsize=8, frameon=False)
        return to_svg(fig, tight=True)  # slice names are long: fit the margin to them


def _axis_end(ceiling: bool, values: Sequence[float | None]) -> float:
    """1 for a fraction (classification metrics); for an error, a little past the largest value."""
    if not ceiling:
        return 1.0
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return max(finite, default=1.0) * 1.1 or 1.0


def line_chart(
    title: str,
    series: Mapping[str, Sequence[float]],
    x: Sequence[float] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    limits: Mapping[str, float] | None = None,
) -> str:
    """One line per series over `x` (default 1..n), with dashed horizontal limit lines."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure((6.4, 2.6), {"left": 0.1, "right": 0.98, "top": 0.88, "bottom": 0.18})
        for name, values in series.items():
            xs = list(x) if x is not None else list(range(1, len(values) + 1))
            ax.plot(xs, list(values), marker="o" if len(values) < 30 else None, label=name)
        for name, value in (limits or {}).items():
            ax.axhline(value, color=BAD, linestyle="--", linewidth=1, label=name)
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, frameon=False)
        return to_svg(fig)


def histogram_chart(
    feature: str, spans: Mapping[str, tuple[Sequence[float], Sequence[float]]]
) -> str:
    """Per span, the share of examples in each bucket (bucket edges, counts), as step lines."""
    with matplotlib.rc_context(STYLE):
        fig, ax = _figure((3.2, 1.8), {"left": 0.2, "right": 0.97, "top": 0.86, "bottom": 0.16})
        ax.locator_params(nbins=4)
        for label, (edges, counts) in spans.items():
            total = sum(counts) or 1.0
            shares = [c / total for c in counts]
            if len(edges) == len(shares) + 1:
                ax.stairs(shares, list(edges), label=label)
        ax.set_title(feature, loc="left")
        ax.set_ylabel("share")
        ax.legend(fontsize=7, frameon=False)
        return to_svg(fig)
