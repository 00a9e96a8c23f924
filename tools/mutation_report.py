"""After `mutmut run`: mutants per module and function, and a verdict on the rules and steps.

Two kinds of function are held to every mutant killed. A rule decides (a gate, a blessing
reason, a load-test verdict, a promotion rule); a step carries a decision out (the promotion
commands that check the rules, then write records, manifests and tags). A surviving mutant (or
one no test runs) in either means a release could change without a test failing. The other
functions are counted for information only: formatting and plumbing.
Exit 1 when a rule or step has a surviving, untested or unchecked (run cut short) mutant.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

# module -> its functions of that kind ("Class.method" for methods); None: every function.
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
    "delivery.baseline": {"released_baseline"},
    "delivery.loadtest_record": {"check_serves_the_release", "verdict"},
}
STEPS: dict[str, set[str] | None] = {
    "delivery.promotion": {
        "Delivery.promote_to",
        "Delivery.candidate",
        "Delivery.promote_from_pipeline",
        "Delivery.promote",
        "Delivery.rollback",
        "Delivery.record_loadtest",
        "Delivery.verify",
        "Delivery.sync",
        "Delivery._install",
        "Delivery._move",
    },
    "delivery.loadtest_record": {"record_result"},
    "delivery.serve_release": {"plan", "pulled_store"},
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


def _listed(kinds: dict[str, set[str] | None], module: str, func: str) -> bool:
    if module not in kinds:
        return False
    funcs = kinds[module]
    return funcs is None or func in funcs


def kind(module: str, func: str) -> str:
    """The function's kind: rule, step, or empty when it is counted for information only."""
    if _listed(RULES, module, func):
        return "rule"
    return "step" if _listed(STEPS, module, func) else ""


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
        f"{'module':<24} {'function':<32} {'killed':>6} {'survived':>8} {'no tests':>8} "
        f"{'other':>5}  kind"
    )
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    failing = []
    for (module, func), counts in sorted(per_function.items()):
        what = kind(module, func)
        per_module[module].update(counts)
        other = sum(n for status, n in counts.items() if status not in KNOWN)
        print(
            f"{module:<24} {func:<32} {counts['killed']:>6} {counts['survived']:>8} "
            f"{counts['no tests']:>8} {other:>5}  {what}"
        )
        if what and any(counts[s] for s in NOT_CAUGHT):
            failing.append(f"{what} {module}.{func}")
    print("\nper module (all functions):")
    for module, counts in sorted(per_module.items()):
        total = sum(counts.values())
        others = ", ".join(
            f"{n} {status}" for status, n in sorted(counts.items()) if status not in KNOWN
        )
        print(
            f"  {module:<24} {total:>5} mutants: {counts['killed']} killed, "
            f"{counts['survived']} survived, {counts['no tests']} not covered by the tests"
            + (f", {others}" if others else "")
        )
    if failing:
        print(
            f"\nmutation testing: {len(failing)} rule(s) or promotion step(s) with surviving, "
            f"untested or unchecked mutants: {', '.join(failing)}.\nSee each with "
            f"`.venv/bin/mutmut show NAME` (names: `.venv/bin/mutmut results`) and add a test "
            f"that fails on it.",
            file=sys.stderr,
        )
        return 1
    print("\nmutation testing: every mutant of the rules and promotion steps was killed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
