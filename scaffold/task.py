"""Which task a label asks for (binary, multiclass or regression), and its label logic.

`auto` reads the label's type and cardinality: two values are binary, a few integers or strings
are classes, and many numbers are a quantity to regress. The decision is printed, so a wrong
guess is one `--task` away.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from core.errors import ConfigError
from scaffold.table import NUMERIC, Column, Table

TASKS = ("auto", "binary", "multiclass", "regression")
# More distinct integer labels than this read as a quantity, not as classes.
MAX_INTEGER_CLASSES = 20
# More distinct string labels than this cannot be a class label the gates could judge per class.
MAX_CLASSES = 50
# Each class needs this many rows, so the evaluation split (a quarter) still holds some of it.
MIN_ROWS_PER_CLASS = 8


@dataclass(frozen=True)
class Task:
    """The task, and how the Transform turns the raw label into the model's target."""

    kind: str
    label: str
    # binary: the raw value that means 1; multiclass: the class values, in id order.
    positive: str | None = None
    classes: tuple[str, ...] = ()
    reason: str = ""

    @property
    def metric(self) -> str:
        return {"binary": "auc", "multiclass": "accuracy", "regression": "rmse"}[self.kind]

    @property
    def lower_is_better(self) -> bool:
        return self.kind == "regression"


def _label_values(table: Table, label: Column) -> list[str]:
    for row, value in enumerate(label.values, start=2):
        if value is None:
            raise ConfigError(
                f"{table.source}: label column {label.name!r}: empty value on line {row}; "
                f"every row needs a label (drop unlabelled rows, or fill them)"
            )
    return label.present()


def _class_counts(table: Table, label: Column, values: list[str]) -> Counter[str]:
    counts = Counter(_canonical(label, v) for v in values)
    if len(counts) < 2:
        only = next(iter(counts), "")
        raise ConfigError(
            f"{table.source}: label column {label.name!r}: one class only (every row is "
            f"{only!r}); a model needs at least two labels to learn from"
        )
    return counts


def _canonical(label: Column, value: str) -> str:
    """Integer labels as integers ("01" and "1" are one class)."""
    return str(int(value)) if label.kind == "int" else value


def _check_class_sizes(table: Table, label: Column, counts: Counter[str]) -> None:
    for value, n in sorted(counts.items(), key=lambda item: item[1]):
        if n < MIN_ROWS_PER_CLASS:
            raise ConfigError(
                f"{table.source}: label column {label.name!r}: class {value!r} has {n} row(s), "
                f"too few to split into training and evaluation (at least "
                f"{MIN_ROWS_PER_CLASS}); add rows of it, merge it into another class, or drop it"
            )


def decide_task(
    table: Table, label_name: str, task: str = "auto", positive: str | None = None
) -> Task:
    """The task for `label_name`, checked against its values; ConfigError when it cannot be."""
    if task not in TASKS:
        raise ConfigError(f"--task {task!r}: expected one of {', '.join(TASKS)}")
    label = table.column(label_name, "--label")
    values = _label_values(table, label)
    if label.kind not in NUMERIC and label.kind != "string":
        raise ConfigError(
            f"{table.source}: label column {label_name!r}: a {label.kind} column cannot be a "
            f"label; choose a numeric or categorical column"
        )
    counts = _class_counts(table, label, values)
    numeric = label.kind in NUMERIC
    if task == "auto":
        if len(counts) == 2:
            task, why = "binary", "two distinct values"
        elif label.kind == "int" and len(counts) <= MAX_INTEGER_CLASSES:
            task, why = "multiclass", f"{len(counts)} distinct integers"
        elif label.kind == "string":
            task, why = "multiclass", f"{len(counts)} distinct strings"
        else:
            task, why = "regression", f"{label.kind} with {len(counts)} distinct values"
    else:
        why = "--task"
    if task == "regression":
        if not numeric:
            raise ConfigError(
                f"{table.source}: label column {label_name!r}: --task regression needs numbers, "
                f"and {values[0]!r} is not one"
            )
        if positive is not None:
            raise ConfigError("--positive: only for a binary task")
        return Task("regression", label_name, reason=why)
    if len(counts) > MAX_CLASSES:
        raise ConfigError(
            f"{table.source}: label column {label_name!r}: {len(counts)} distinct values, more "
            f"than {MAX_CLASSES} classes; use --task regression for a quantity"
        )
    _check_class_sizes(table, label, counts)
    ordered = tuple(sorted(counts, key=lambda v: (-counts[v], v)))
    if task == "multiclass":
        if positive is not None:
            raise ConfigError("--positive: only for a binary task")
        return Task("multiclass", label_name, classes=ordered, reason=why)
    if len(counts) != 2:
        raise ConfigError(
            f"{table.source}: label column {label_name!r}: --task binary needs two values, "
            f"found {len(counts)} ({', '.join(ordered[:5])}{', ...' if len(ordered) > 5 else ''})"
        )
    return Task(
        "binary",
        label_name,
        positive=_positive(table, label, counts, positive),
        classes=ordered,
        reason=why,
    )


def _positive(table: Table, label: Column, counts: Counter[str], positive: str | None) -> str:
    if positive is not None:
        wanted = (
            _canonical(label, positive)
            if label.kind == "int" and positive.lstrip("+-").isdigit()
            else positive
        )
        if wanted not in counts:
            raise ConfigError(
                f"--positive {positive!r}: not a value of label column {label.name!r} in "
                f"{table.source} (values: {', '.join(sorted(counts))})"
            )
        return wanted
    if set(counts) == {"0", "1"}:
        return "1"
    # Strings, or two numbers other than 0/1: the rarer value is the event to detect (a draft).
    return min(counts, key=lambda v: (counts[v], v))
