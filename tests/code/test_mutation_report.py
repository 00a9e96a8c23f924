"""`make mutate`'s verdict: rules and promotion steps are each named for what they are, and a
survivor in either fails the run, while plumbing is only counted."""

from __future__ import annotations

import importlib

import pytest

from tools import mutation_report
from tools.mutation_report import RULES, STEPS, kind


def test_each_function_is_named_rule_step_or_nothing() -> None:
    assert kind("delivery.rules", "stage_order") == "rule"
    assert kind("serving.loadtest", "gate") == "rule"
    assert kind("delivery.loadtest_record", "check_serves_the_release") == "rule"
    for step in ("promote", "promote_from_pipeline", "record_loadtest", "rollback", "verify"):
        assert kind("delivery.promotion", f"Delivery.{step}") == "step"
    assert kind("delivery.promotion", "Delivery._install") == "step"
    assert kind("delivery.loadtest_record", "record_result") == "step"
    assert kind("delivery.promotion", "display_uri") == ""


@pytest.mark.parametrize(
    "module, names",
    [(m, n) for kinds in (RULES, STEPS) for m, n in kinds.items() if n is not None],
)
def test_every_named_rule_and_step_exists(module: str, names: set[str]) -> None:
    """A renamed function would drop out of the verdict without a word: each name resolves."""
    code = importlib.import_module(module)
    for name in sorted(names):
        owner = code
        for part in name.split("."):
            assert hasattr(owner, part), f"{module} has no {name}"
            owner = getattr(owner, part)


def _report(monkeypatch: pytest.MonkeyPatch, capsys, rows: list[tuple[str, str, str]]):
    monkeypatch.setattr(mutation_report, "results", lambda _mutmut: rows)
    code = mutation_report.main()
    return code, capsys.readouterr()


def test_a_surviving_mutant_in_a_step_fails_and_is_called_a_step(monkeypatch, capsys) -> None:
    code, out = _report(
        monkeypatch,
        capsys,
        [
            ("delivery.promotion", "Delivery.promote", "killed"),
            ("delivery.promotion", "Delivery.promote", "survived"),
            ("delivery.rules", "stage_order", "killed"),
            ("delivery.promotion", "display_uri", "survived"),
        ],
    )
    assert code == 1
    assert "1 rule(s) or promotion step(s) with surviving" in out.err
    assert "mutants: step delivery.promotion.Delivery.promote." in out.err
    assert "display_uri" not in out.err  # plumbing is counted, not gated
    table = out.out.split("\n\n")[0].splitlines()[1:]  # the per-function table
    rows = {line.split()[1]: line.split() for line in table}
    assert rows["Delivery.promote"][-1] == "step"
    assert rows["stage_order"][-1] == "rule"
    assert rows["display_uri"][-1] == "0"  # no kind column: the `other` count ends the row


def test_all_rules_and_steps_killed_passes(monkeypatch, capsys) -> None:
    code, out = _report(
        monkeypatch,
        capsys,
        [
            ("delivery.promotion", "Delivery.rollback", "killed"),
            ("delivery.rules", "previous_release", "killed"),
            ("delivery.promotion", "display_uri", "survived"),
        ],
    )
    assert code == 0, out.err
    assert "every mutant of the rules and promotion steps was killed" in out.out
