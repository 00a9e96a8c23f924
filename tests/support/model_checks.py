"""Checks CI runs on the model code: convergence and training/serving skew.

They are plain functions over numbers so the same verdicts serve tests, notebooks and pipeline
steps, and each failure says what was measured, what was required and where to look.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import GateError


class ConvergenceError(GateError):
    """The model did not learn on a sample it should learn easily."""


class SkewError(GateError):
    """The served model and the trained model disagree on the same rows."""


def check_convergence(
    initial_loss: float, losses: Sequence[float], *, min_relative_drop: float
) -> str:
    """Require the final loss to be finite and at least `min_relative_drop` below the start."""
    final = losses[-1] if losses else float("nan")
    if not (math.isfinite(initial_loss) and math.isfinite(final)):
        raise ConvergenceError(f"loss is not finite (start {initial_loss}, end {final})")
    drop = (initial_loss - final) / initial_loss if initial_loss > 0 else 0.0
    verdict = (
        f"loss {initial_loss:.4f} -> {final:.4f} ({drop:.1%} lower, "
        f"at least {min_relative_drop:.0%} required)"
    )
    if drop < min_relative_drop:
        raise ConvergenceError(
            f"training did not converge: {verdict}. Check the learning rate, the labels, and "
            f"that the features reach the model (models/trainer.py, models/model.py)."
        )
    return verdict


def check_overfit(final_loss: float, *, max_loss: float) -> str:
    """A model that cannot memorise one small batch has a wiring bug, not a data problem."""
    verdict = f"training loss on the tiny batch {final_loss:.4f} (must be below {max_loss})"
    if not (math.isfinite(final_loss) and final_loss < max_loss):
        raise ConvergenceError(f"cannot overfit a tiny batch: {verdict}")
    return verdict


@dataclass(frozen=True)
class SkewReport:
    """Per-row predictions of the serving signature and of the Keras model on Transform output,
    [rows, width]: one column for a binary or regression head, one per class for multiclass."""

    labels: list[str]
    serving: np.ndarray
    training: np.ndarray
    tolerance: float

    @property
    def diffs(self) -> np.ndarray:
        """Each row's largest difference over the output's columns."""
        return np.abs(self.serving - self.training).max(axis=1)

    @property
    def max_diff(self) -> float:
        return float(self.diffs.max()) if self.diffs.size else 0.0

    def table(self, limit: int = 8) -> str:
        """The worst rows first (at the column that differs most), compact enough for a CI log."""
        order = np.argsort(-self.diffs)[:limit]
        width = max(len(lbl) for lbl in self.labels)
        column = np.abs(self.serving - self.training).argmax(axis=1)
        lines = [f"{'row':<{width}}  {'serving':>9}  {'training':>9}  {'|diff|':>9}"]
        lines += [
            f"{self.labels[i]:<{width}}  {self.serving[i, column[i]]:9.6f}"
            f"  {self.training[i, column[i]]:9.6f}  {self.diffs[i]:9.2e}"
            for i in order
        ]
        lines.append(
            f"{len(self.labels)} rows, max |diff| {self.max_diff:.2e}, "
            f"tolerance {self.tolerance:.0e}"
        )
        return "\n".join(lines)


def _per_row(outputs: np.ndarray, rows: int) -> np.ndarray:
    values = np.asarray(outputs, dtype=float)
    return values.reshape(rows, -1) if rows and values.size % rows == 0 else values.reshape(1, -1)


def check_skew(
    labels: Sequence[str], serving: np.ndarray, training: np.ndarray, *, tolerance: float
) -> SkewReport:
    """Raise when any row's served prediction differs from the training-path prediction."""
    rows = len(labels)
    report = SkewReport(list(labels), _per_row(serving, rows), _per_row(training, rows), tolerance)
    if report.serving.shape != report.training.shape or report.serving.shape[0] != rows:
        raise SkewError(
            f"serving gave {report.serving.size} predictions, training path "
            f"{report.training.size}, for {len(report.labels)} rows"
        )
    bad = int((report.diffs > tolerance).sum())
    if bad or not np.all(np.isfinite(report.diffs)):
        raise SkewError(
            f"training/serving skew: {bad} of {len(report.labels)} rows differ by more than "
            f"{tolerance:.0e}. Preprocessing must live in preprocessing_fn (the Transform "
            f"graph the exported model carries), not in the Trainer's input code.\n"
            + report.table(limit=max(bad, 8))  # every row that differs is named
        )
    return report
