"""The environments' config renamed and re-gated by `mlops init`, comments and layout kept.

The gate of every layer comes from scaffold.gates: a floor for a classification metric, a
ceiling for rmse, the counterpart key replaced on its own line.

A person reviews these files as a `git diff`, so init changes only the values it decided, each
in place on its own line, and leaves every comment and every other key as it was. A key that is
not where the template has it is an error naming the file and key, never a silent skip.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.errors import ConfigError
from scaffold import gates
from scaffold.plan import Plan


def _scalar(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _locate(text: str, path: str, key: str) -> tuple[list[str], int, re.Match[str]] | None:
    """The lines of `text`, and where `key` (`a.b`: `b:` indented under `a:`) is; None when its
    section is there but the key is not. A missing section is an error naming it."""
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
            return lines, i, match
    return None


def set_value(text: str, path: str, key: str, value: object) -> str:
    """`key` under its section (`a.b`: `b:` indented under `a:`) set to `value`, in place."""
    found = _locate(text, path, key)
    if found is None:
        raise ConfigError(f"{path}: no key {key} to set to {_scalar(value)}")
    lines, i, match = found
    lines[i] = f"{match.group(1)}{_scalar(value)}{match.group(3) or ''}\n"
    return "".join(lines)


def set_either(text: str, path: str, key: str, other: str, value: object) -> str:
    """`key` set to `value` where the template has `key` or its counterpart `other` (same
    section): a floor becomes a ceiling on the same line, so the diff shows the swap. A
    renamed line loses its comment, which spoke of the other key."""
    if _locate(text, path, key) is not None:
        return set_value(text, path, key, value)
    found = _locate(text, path, other)
    if found is None:
        raise ConfigError(f"{path}: no key {key} (or {other}) to set to {_scalar(value)}")
    lines, i, match = found
    indent = match.group(1)[: len(match.group(1)) - len(match.group(1).lstrip())]
    lines[i] = f"{indent}{key.rsplit('.', 1)[-1]}: {_scalar(value)}\n"
    return "".join(lines)


def rename_paths(text: str, old: str, new: str) -> str:
    """Bucket folders, pipeline roots and registry namespaces that name the project (`/old/` or
    `/old}`) renamed in values; comment lines, which are examples, stay as they were."""
    if old == new:
        return text
    segment = re.compile(rf"(?<=/){re.escape(old)}(?=[/}}])")
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            continue
        value, hash_, comment = line.partition(" #")
        lines[i] = segment.sub(new, value) + hash_ + comment
    return "".join(lines)


def _current_name(text: str) -> str:
    """The model name base/config.yaml has before init renames it, dashed as paths spell it."""
    match = re.search(r"^model_name:\s*([^#\s]+)", text, re.M)
    return match.group(1).replace("_", "-") if match else ""


def _gate(text: str, path: str, g: gates.Gates, bound: float, decay: float) -> str:
    text = set_either(text, path, f"evaluation.{g.bound_key}", f"evaluation.{g.bound_other}", bound)
    ct = "continuous_training"
    return set_either(text, path, f"{ct}.{g.decay_key}", f"{ct}.{g.decay_other}", decay)


def environments(root: Path, plan: Plan) -> dict[str, str]:
    """environments/*/config.yaml with the plan's names, data, gate and slices."""
    files: dict[str, str] = {}
    g = gates.draft(plan.baseline)
    base = Path("environments/base/config.yaml")
    dashed = plan.name.replace("_", "-")
    old = ""
    if (root / base).is_file():
        text = (root / base).read_text(encoding="utf-8")
        old = _current_name(text)
        text = set_value(text, str(base), "model_name", plan.name)
        text = set_value(text, str(base), "data.root", f"data/{plan.name}")
        text = set_value(text, str(base), "data.window_spans", plan.window_spans)
        text = set_value(text, str(base), "data.min_examples", plan.min_examples)
        text = set_value(text, str(base), "training.batch_size", plan.batch_size)
        text = set_value(text, str(base), "training.train_steps", plan.train_steps)
        text = set_value(text, str(base), "evaluation.metric", g.metric)
        text = _gate(text, str(base), g, g.base_bound, g.base_decay)
        text = set_value(text, str(base), "evaluation.max_regression", g.max_regression)
        text = set_value(text, str(base), "evaluation.slices", plan.slices)
        text = set_value(text, str(base), "deploy.namespace", plan.name.replace("_", "-"))
        files[str(base)] = text
    cloud = Path("environments/cloud.yaml")
    if (root / cloud).is_file():
        text = (root / cloud).read_text(encoding="utf-8")
        text = _gate(text, str(cloud), g, g.cloud_bound, g.cloud_decay)
        text = rename_paths(text, old, dashed) if old else text
        # Staging and prod load-test the new model with its own held-out rows, not the taxi's.
        rows = f"data/{plan.name}/loadtest_rows.csv"
        files[str(cloud)] = set_value(text, str(cloud), "loadtest.rows_file", rows)
    for env in ("dev", "staging", "prod"):
        path = Path("environments", env, "config.yaml")
        if not (root / path).is_file():
            continue
        text = (root / path).read_text(encoding="utf-8")
        text = rename_paths(text, old, dashed) if old else text
        text = set_value(text, str(path), "pipeline_name", f"{dashed}-{env}")
        if re.search(r"^deploy:\s*$", text, re.M) and re.search(r"^  namespace:", text, re.M):
            text = set_value(text, str(path), "deploy.namespace", f"{dashed}-{env}")
        if env == "prod":
            text = set_value(text, str(path), "evaluation.max_regression", g.prod_max_regression)
        files[str(path)] = text
    return files
