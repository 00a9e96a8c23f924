"""Prometheus's own `promtool` (Debian's `prometheus` package, installed by `make
monitoring-tools`): it parses rules and PromQL and runs rule unit tests exactly as the server
evaluates them, so no PromQL parser of our own can agree with itself and be wrong."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

HINT = "promtool not found: run `make monitoring-tools` (Debian package prometheus)"


def binary() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise RuntimeError(HINT)
    return path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def check_rules(groups: list[dict[str, Any]], tmp: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on `groups` written as a rules file."""
    path = tmp / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return _run(["check", "rules", path.name], tmp)


def test_rules(
    groups: list[dict[str, Any]], tests: list[dict[str, Any]], tmp: Path, interval: str = "1m"
) -> subprocess.CompletedProcess[str]:
    """`promtool test rules`: each test's input series, then its expected alerts."""
    (tmp / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    # Each test's own `interval` (between input samples) must be set: 2.42 does not take the
    # evaluation interval for it, and the series then never reach the rules.
    tests = [{"interval": interval, **t} for t in tests]
    unit = {"rule_files": ["rules.yaml"], "evaluation_interval": interval, "tests": tests}
    (tmp / "tests.yaml").write_text(yaml.safe_dump(unit, sort_keys=False))
    return _run(["test", "rules", "tests.yaml"], tmp)


def check_query(expr: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """Parse one PromQL expression, as the expression of a recording rule."""
    return check_rules([{"name": "query", "rules": [{"record": "query:check", "expr": expr}]}], tmp)
