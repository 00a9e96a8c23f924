"""After `mutmut run`: mutants per module and function, and a verdict on the rule functions.

A surviving mutant (or one no test runs) in a rule function means a rule could change without a
test failing. Functions outside RULES are counted for information only: formatting and plumbing.
Exit 1 when any rule function has a surviving, untested or unchecked (run cut short) mutant.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

# module -> rule functions ("Class.method" for methods); None means every function of the module.
RULES: dict[str, set[str] | None] = {
    "components.data_gate": None,
    "models.evaluation": None,
    "pipeline.summary": {"read_blessing_failures", "slice_name"},
    "serving.loadtest": {
        "evaluate",
        "gate",
        "judge",
        "expected_requests",
        "read_locust_stats",
        "read_failures",
        "read_exceptions",
        "read_window",
        "SloCheck.line",
    },
    "delivery.rules": None,
    "delivery.promotion": {
        "Delivery.promote_from_pipeline",
        "Delivery.promote",
        "Delivery.rollback",
        "Delivery.record_loadtest",
        "Delivery.verify",
        "Delivery._install",
    },
}
NOT_CAUGHT = ("survived", "no tests", "not checked")  # "not checked": the run was cut short
KNOWN = ("killed", "survived", "no tests")
NAME = re.compile(
    r"^\s*(?P<module>[\w.]+?)\.x(?:_(?P<func>\w+?)|ǁ(?P<cls>\w+)ǁ(?P<meth>\w+?))"
    r"__mutmut_\d+: (?P<status>.+)$"
)


def results(mutmut: str) -> list[tuple[str, str, str]]:
    """(module, function, status) for every mutant of the last run."""
    out = subprocess.run(
        [mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    rows = []
    for line in out.splitlines():
        m = NAME.match(line)
        if m:
            func = m["func"] or f"{m['cls']}.{m['meth']}"
            rows.append((m["module"], func, m["status"].strip()))
    return rows


def is_rule(module: str, func: str) -> bool:
    if module not in RULES:
        return False
    funcs = RULES[module]
    return funcs is None or func in funcs


def main() -> int:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    rows = results(mutmut)
    if not rows:
        print("mutation report: no mutants found; run `mutmut run` first", file=sys.stderr)
        return 1
    per_function: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for module, func, status in rows:
        per_function[module, func][status] += 1
    print(
        f"{'module':<22} {'function':<34} {'killed':>6} {'survived':>8} {'no tests':>8} "
        f"{'other':>5}  rule"
    )
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    failing = []
    for (module, func), counts in sorted(per_function.items()):
        rule = is_rule(module, func)
        per_module[module].update(counts)
        other = sum(n for status, n in counts.items() if status not in KNOWN)
        print(
            f"{module:<22} {func:<34} {counts['killed']:>6} {counts['survived']:>8} "
            f"{counts['no tests']:>8} {other:>5}  {'yes' if rule else ''}"
        )
        if rule and any(counts[s] for s in NOT_CAUGHT):
            failing.append(f"{module}.{func}")
    print("\nper module (all functions):")
    for module, counts in sorted(per_module.items()):
        total = sum(counts.values())
        others = ", ".join(
            f"{n} {status}" for status, n in sorted(counts.items()) if status not in KNOWN
        )
        print(
            f"  {module:<22} {total:>5} mutants: {counts['killed']} killed, "
            f"{counts['survived']} survived, {counts['no tests']} not covered by the tests"
            + (f", {others}" if others else "")
        )
    if failing:
        print(
            f"\nmutation testing: {len(failing)} rule function(s) with surviving, untested or "
            f"unchecked mutants: {', '.join(failing)}.\nSee each with `.venv/bin/mutmut show "
            f"NAME` (names: `.venv/bin/mutmut results`) and add a test that fails on it.",
            file=sys.stderr,
        )
        return 1
    print("\nmutation testing: every mutant of the rule functions was killed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
