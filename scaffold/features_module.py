"""models/features.py for a new dataset: the task, the label rule and every column's role.

The one module a person edits to change what the model sees, written by `mlops init` in the
same shape as the taxi sample's, so the Transform, the model head and the Evaluator follow the
plan without a second source of truth. Roles the plan does not use are written empty.
"""

from __future__ import annotations

import importlib.util
import json
import textwrap
from pathlib import Path

from core.errors import ConfigError
from scaffold.plan import Plan
from scaffold.render import DRAFT


def _q(value: str | None) -> str:
    """A Python literal in the double quotes ruff's formatter keeps."""
    return "None" if value is None else json.dumps(value)


def _tuple(values: list[str], indent: str = "") -> str:
    """One value a line, with the trailing comma that keeps ruff's formatter from joining them."""
    if not values:
        return "()"
    if len(values) == 1:  # the comma makes it a tuple, so the formatter keeps it on one line
        return f"({_q(values[0])},)"
    return "(\n" + "".join(f"{indent}    {_q(v)},\n" for v in values) + f"{indent})"


def _dict(items: dict[str, str]) -> str:
    if not items:
        return "{}"
    return "{\n" + "".join(f"    {_q(k)}: {v},\n" for k, v in items.items()) + "}"


def _comment(text: str) -> list[str]:
    """`# text`, wrapped to the project's 100 columns."""
    return textwrap.wrap(text, 98, initial_indent="# ", subsequent_indent="#   ")


def _label_lines(plan: Plan) -> list[str]:
    t = plan.task
    positive = t.positive if t.kind == "binary" else None
    classes = list(t.classes) if t.kind == "multiclass" else []
    rule = {
        "binary": f"1 where {t.label} is {positive!r}, else 0",
        "multiclass": f"the index of {t.label}'s value in CLASSES",
        "regression": f"{t.label} as a float",
    }[t.kind]
    return [
        "# The task: binary, multiclass or regression. It picks the label logic "
        "(models/preprocessing.py),",
        "# the head and loss (models/model.py) and the gated metric (models/evaluation.py).",
        *_comment(f"{DRAFT[2:]}: decided from the label ({t.reason})"),
        f'TASK = "{t.kind}"',
        "",
        *_comment(f"The model's target, as the Transform outputs it: {rule}."),
        f"LABEL_KEY = {_q(t.label)}",
        "# The raw column the label is computed from.",
        f"LABEL_COLUMN = {_q(t.label)}",
        "# Binary by threshold: 1 where LABEL_COLUMN > LABEL_THRESHOLD, times LABEL_THRESHOLD_OF "
        "when set.",
        "LABEL_THRESHOLD: float | None = None",
        "LABEL_THRESHOLD_OF: str | None = None",
        "# Binary by class: the raw value that means 1 (instead of a threshold).",
        f"POSITIVE_CLASS: str | None = {_q(positive)}"
        + (f"  {DRAFT}" if positive is not None else ""),
        "# Multiclass: the raw label values in id order (the model's output i is CLASSES[i]).",
        f"CLASSES: tuple[str, ...] = {_tuple(classes)}",
        "# Raw columns that only feed the label: a serving request may leave them out.",
        f"LABEL_SOURCE_KEYS = {_tuple([t.label])}",
    ]


def features_py(plan: Plan) -> str:
    """The text of models/features.py for `plan`."""
    by_role: dict[str, list[str]] = {}
    for r in plan.roles:
        by_role.setdefault(r.role, []).append(r.column)
    sizes = {r.column: r.size for r in plan.roles if r.role == "one_hot"}
    parts = {r.column: r.parts for r in plan.roles if r.role == "cyclical"}
    unused = [(r.column, r.reason) for r in plan.roles if r.role == "unused"]
    lines = [
        '"""The task and the role of every raw column, in one place.',
        "",
        "The curated schema (models/schema/schema.pbtxt), the Transform, the model head, the "
        "Evaluator",
        "and the tests all read from here, so a column is either engineered in a stated way or "
        "listed as",
        "deliberately unused.",
        "",
        *textwrap.wrap(
            f"Drafted by `mlops init` from {plan.table.source}: review each `draft` line.",
            100,
            break_long_words=False,
        ),
        '"""',
        "",
        "from __future__ import annotations",
        "",
        *_label_lines(plan),
        "",
        "# Numeric columns standardised to z-scores; missing values become the mean (0 after "
        "scaling).",
        f"ZSCORE_KEYS: tuple[str, ...] = {_tuple(by_role.get('zscore', []))}",
        "",
        "# Numeric columns cut into quantile buckets computed on the training data.",
        "QUANTILE_BUCKET_KEYS: tuple[str, ...] = ()",
        "QUANTILE_BUCKET_COUNT = 10",
        "",
        "# An hour-of-day column cut at fixed boundaries (none here).",
        "HOUR_KEY: str | None = None",
        "HOUR_BOUNDARIES = (6, 10, 16, 20)",
        "",
        "# Integer categoricals with a known range: one-hot over [0, size); missing reads as 0.",
        "INTEGER_CATEGORICAL_SIZES: dict[str, int] = "
        + _dict({k: str(v) for k, v in sizes.items()}),
        "",
        "# String categoricals mapped through a vocabulary learned on training data.",
        f"VOCABULARY_KEYS: tuple[str, ...] = {_tuple(by_role.get('vocabulary', []))}",
        "VOCABULARY_SIZE = 100",
        "OOV_BUCKETS = 2",
        "",
        "# Dates and timestamps (ISO text, or Unix seconds) as sin/cos of their hour, weekday and "
        "month.",
        "CYCLICAL_PARTS: dict[str, tuple[str, ...]] = "
        + _dict({k: _tuple(list(v), "    ") for k, v in parts.items()}),
        "",
        "# Present in the data and the schema, deliberately not used by the model:",
        *[line for column, reason in unused for line in _comment(f"- {column}: {reason}")],
        f"UNUSED_KEYS: tuple[str, ...] = {_tuple([c for c, _ in unused])}",
    ]
    return "\n".join(lines) + "\n\n" + shared_helpers()


# Where the helpers every dataset shares begin in models/features.py: init copies them from the
# project's own module, so they have one copy to maintain.
SHARED_START = "# Fill-ins for missing values before the analysers see them."


def shared_helpers(path: Path | None = None) -> str:
    """The text of models/features.py from SHARED_START to the end (the project's own module
    unless `path` names another): a missing start line is an error naming the file."""
    if path is None:
        spec = importlib.util.find_spec("models.features")
        path = Path(spec.origin) if spec and spec.origin else Path("models/features.py")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the feature module: {exc.strerror}") from None
    start = text.find(f"\n{SHARED_START}\n")
    if start < 0:
        raise ConfigError(
            f"{path}: no line {SHARED_START!r} where the shared helpers begin; init copies "
            "everything from it to the end (restore it: git checkout -- models/features.py)"
        )
    return text[start + 1 :]
