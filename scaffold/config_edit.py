"""The environments' config renamed and re-gated by `mlops init`, comments and layout kept.

A person reviews these files as a `git diff`, so init changes only the values it decided, each
in place on its own line, and leaves every comment and every other key as it was. A key that is
not where the template has it is an error naming the file and key, never a silent skip.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import ConfigError
from scaffold.plan import Plan

# The metrics the gates take today: higher is better, a bound in [0, 1].
GATED_METRICS = ("auc", "binary_accuracy", "precision", "recall")


def _scalar(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def set_value(text: str, path: str, key: str, value: object) -> str:
    """`key` under its section (`a.b`: `b:` indented under `a:`) set to `value`, in place."""
    *sections, leaf = key.split(".")
    lines = text.splitlines(keepends=True)
    start, indent = 0, ""
    for section in sections:
        pattern = re.compile(rf"^{re.escape(indent)}{re.escape(section)}:\s*(#.*)?$")
        found = next((i for i in range(start, len(lines)) if pattern.match(lines[i])), None)
        if found is None:
            raise ConfigError(f"{path}: no section {section!r} to set {key}")
        start, indent = found + 1, indent + "  "
    pattern = re.compile(rf"^({re.escape(indent)}{re.escape(leaf)}:\s*)([^#\n]*?)(\s*#.*)?$")
    for i in range(start, len(lines)):
        line = lines[i].rstrip("\n")
        if sections and line.strip() and not line.startswith(indent):
            break
        match = pattern.match(line)
        if match:
            comment = match.group(3) or ""
            lines[i] = f"{match.group(1)}{_scalar(value)}{comment}\n"
            return "".join(lines)
    raise ConfigError(f"{path}: no key {key} to set to {_scalar(value)}")


def gated(plan: Plan) -> bool:
    """Whether the plan's metric is one the gates can hold yet (see GATED_METRICS)."""
    return plan.baseline.metric in GATED_METRICS and not plan.baseline.lower_is_better


def environments(root: Path, plan: Plan) -> dict[str, str]:
    """environments/*/config.yaml with the plan's names, data, gate and slices."""
    files: dict[str, str] = {}
    base = Path("environments/base/config.yaml")
    if (root / base).is_file():
        text = (root / base).read_text(encoding="utf-8")
        text = set_value(text, str(base), "model_name", plan.name)
        text = set_value(text, str(base), "data.root", f"data/{plan.name}")
        text = set_value(text, str(base), "data.window_spans", plan.window_spans)
        text = set_value(text, str(base), "data.min_examples", plan.min_examples)
        text = set_value(text, str(base), "training.batch_size", plan.batch_size)
        text = set_value(text, str(base), "training.train_steps", plan.train_steps)
        if gated(plan):
            floor = plan.baseline.floor
            text = set_value(text, str(base), "evaluation.metric", plan.baseline.metric)
            text = set_value(text, str(base), "evaluation.lower_bound", floor)
            text = set_value(
                text, str(base), "continuous_training.decay_floor", round(floor - 0.02, 4)
            )
        text = set_value(text, str(base), "evaluation.slices", plan.slices)
        text = set_value(text, str(base), "deploy.namespace", plan.name.replace("_", "-"))
        files[str(base)] = text
    for env in ("dev", "staging", "prod"):
        path = Path("environments", env, "config.yaml")
        if not (root / path).is_file():
            continue
        text = (root / path).read_text(encoding="utf-8")
        dashed = plan.name.replace("_", "-")
        text = set_value(text, str(path), "pipeline_name", f"{dashed}-{env}")
        if re.search(r"^deploy:\s*$", text, re.M) and re.search(r"^  namespace:", text, re.M):
            text = set_value(text, str(path), "deploy.namespace", f"{dashed}-{env}")
        files[str(path)] = text
    return files
