"""Each promotion rule on its own: when it refuses, and the exact words a user acts on."""

from __future__ import annotations

import re

import pytest

from core.paths import REPO_ROOT
from core.verdicts import Rule, Verdict
from delivery import rules
from delivery.rules import PromotionRefused
from store import release as rel


def _release(version: int = 7, verdict: str = Verdict.PASS) -> rel.Release:
    return rel.Release(
        model_name="taxi_tips",
        version=version,
        digest="sha256:" + "ab" * 32,
        uri="oci://r/m@sha256:" + "cd" * 32,
        loadtest=rel.LoadTest(verdict),
    )


def _refused(call, *args) -> PromotionRefused:
    with pytest.raises(PromotionRefused) as caught:
        call(*args)
    return caught.value


def test_refusals_name_their_rule_in_one_message() -> None:
    exc = PromotionRefused(Rule.TAG_MATCHES, "what to do")
    assert (exc.rule, exc.exit_code) == (Rule.TAG_MATCHES, 1)
    assert str(exc) == "refused (tag-matches): what to do"
    assert exc.reason == "what to do"  # what `mlops status` and --ok-if-current print on


def test_stage_order() -> None:
    rules.stage_order("", None, "dev")
    rules.stage_order("dev", "dev", "staging")
    exc = _refused(rules.stage_order, "dev", None, "staging")
    assert (exc.rule, str(exc)) == (
        Rule.STAGE_ORDER,
        "refused (stage-order): staging takes releases "
        "from dev (deploy.promote_from); use `mlops promote --from "
        "dev --to staging`",
    )
    exc = _refused(rules.stage_order, "staging", "dev", "prod")
    assert str(exc) == (
        "refused (stage-order): prod takes releases only from staging "
        "(deploy.promote_from in environments/prod/config.yaml); stages are not "
        "skipped"
    )
    exc = _refused(rules.stage_order, "", "staging", "dev")
    assert str(exc).startswith(
        "refused (stage-order): dev takes releases only from the pipeline "
        "(`mlops promote --to dev`)"
    )


def _analysed(release: rel.Release, verdict: str, version: int | None = None) -> rel.Release:
    """`release` with an analysis recorded for it (or, with `version`, for another release)."""
    digest = release.digest if version is None else "sha256:" + "ef" * 32
    release.analysis = rel.Analysis(
        verdict, version=release.version if version is None else version, digest=digest
    )
    return release


_RUN_OR_SKIP = (
    "run `mlops analyze --env staging --prometheus URL --record` against the Prometheus that "
    "scrapes staging and promote once it passes, or, if staging has no Prometheus, set "
    "`rollout.strategy: none` in environments/staging/config.yaml in a reviewed pull request"
)


@pytest.mark.parametrize("strategy", ["shadow", "canary"])
def test_analysis_passed_lets_through_only_its_own_pass(strategy: str) -> None:
    rules.analysis_passed("staging", strategy, _analysed(_release(), Verdict.PASS))
    for verdict in Verdict:  # no shadow or canary there: nothing to judge, whatever is on record
        rules.analysis_passed("dev", "none", _analysed(_release(), verdict, version=3))
        rules.analysis_passed("dev", "none", _release())


@pytest.mark.parametrize("strategy", ["shadow", "canary"])
def test_analysis_passed_refuses_a_release_nobody_analysed(strategy: str) -> None:
    """Verdict NONE: the gate could not measure, so it fails closed."""
    exc = _refused(rules.analysis_passed, "staging", strategy, _release())
    assert (exc.rule, str(exc)) == (
        Rule.ANALYSIS_PASSED,
        f"refused (analysis-passed): staging's release version 7 (abababababab) has no "
        f"recorded {strategy} analysis; {_RUN_OR_SKIP}",
    )
    assert exc.exit_code == 1


@pytest.mark.parametrize("verdict", [Verdict.FAIL, Verdict.INCONCLUSIVE])
def test_analysis_passed_refuses_a_failed_or_inconclusive_analysis(verdict: Verdict) -> None:
    exc = _refused(rules.analysis_passed, "staging", "shadow", _analysed(_release(), verdict))
    assert (exc.rule, str(exc)) == (
        Rule.ANALYSIS_PASSED,
        f"refused (analysis-passed): staging's release version 7 (abababababab) has shadow "
        f"analysis verdict {verdict}; fix the candidate (or, if inconclusive, send it more "
        f"traffic), re-run `mlops analyze --env staging --prometheus URL --record`, and "
        f"promote once it passes",
    )


@pytest.mark.parametrize("verdict", [Verdict.PASS, Verdict.FAIL])
def test_analysis_passed_refuses_a_verdict_recorded_for_another_release(verdict: Verdict) -> None:
    exc = _refused(
        rules.analysis_passed, "staging", "canary", _analysed(_release(), verdict, version=6)
    )
    assert (exc.rule, str(exc)) == (
        Rule.ANALYSIS_PASSED,
        f"refused (analysis-passed): staging's release version 7 (abababababab) has no "
        f"canary analysis of its own (the recorded {verdict} judged version 6 "
        f"(efefefefefef)); {_RUN_OR_SKIP}",
    )


def test_analysis_passed_refuses_a_pass_of_the_same_version_with_another_digest() -> None:
    release = _analysed(_release(), Verdict.PASS)
    release.analysis.digest = "sha256:" + "ef" * 32  # version 7 rebuilt: another artifact
    assert "(the recorded PASS judged version 7 (efefefefefef))" in str(
        _refused(rules.analysis_passed, "staging", "shadow", release)
    )


def test_analysis_passed_refuses_a_pass_that_names_no_release() -> None:
    """A record from before analyses named their release proves nothing about this one."""
    release = _release()
    release.analysis = rel.Analysis(Verdict.PASS)
    assert "(the recorded PASS judged no named release)" in str(
        _refused(rules.analysis_passed, "staging", "shadow", release)
    )


def test_source_released() -> None:
    record = rel.Record("dev", _release())
    assert rules.source_released("dev", record) is record.current
    exc = _refused(rules.source_released, "dev", None)
    assert (exc.rule, str(exc)) == (
        Rule.SOURCE_RELEASED,
        "refused (source-released): dev has no release yet; promote to dev first",
    )


@pytest.mark.parametrize("verdict", [Verdict.NONE, Verdict.FAIL])
def test_load_test_passed(verdict: Verdict) -> None:
    rules.load_test_passed("dev", _release(verdict=Verdict.PASS))
    exc = _refused(rules.load_test_passed, "dev", _release(verdict=verdict))
    assert (exc.rule, str(exc)) == (
        Rule.LOAD_TEST_PASSED,
        (
            f"refused (load-test-passed): dev's release version 7 (abababababab) has load-test "
            f"verdict {verdict.value}; run `mlops loadtest --env dev --record` against it and "
            f"promote once it passes"
        ),
    )


def test_not_already_there() -> None:
    rules.not_already_there("staging", None, _release())
    rules.not_already_there("staging", rel.Record("staging", _release(6)), _release(7))
    exc = _refused(
        rules.not_already_there, "staging", rel.Record("staging", _release()), _release()
    )
    assert (exc.rule, str(exc)) == (
        Rule.NOT_ALREADY_THERE,
        "refused (not-already-there): staging "
        "already runs version 7 (abababababab); nothing to promote",
    )


def test_expected_version() -> None:
    rules.expected_version(None, 7, "x")
    rules.expected_version(7, 7, "x")
    exc = _refused(rules.expected_version, 8, 7, "staging's release")
    assert (exc.rule, str(exc)) == (
        Rule.EXPECTED_VERSION,
        "refused (expected-version): staging's "
        "release is version 7, not the approved version 8; re-run "
        "the approval with the version `mlops status` shows",
    )


def test_previous_release() -> None:
    older = _release(6)
    assert rules.previous_release("dev", rel.Record("dev", _release(), [older])) is older
    for record in (None, rel.Record("dev", _release(), [])):
        exc = _refused(rules.previous_release, "dev", record)
        assert (exc.rule, str(exc)) == (
            Rule.PREVIOUS_RELEASE,
            "refused (previous-release): dev has no previous release to roll back to",
        )


# --- the rules table people read --------------------------------------------------------------


def _rules_tables() -> list[tuple[str, list[str]]]:
    """Each Markdown table naming `tag-matches`, in the README or docs/: its file and the rule
    names of its first column."""
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").rglob("*.md"))]:
        if not path.is_file():
            continue
        table: list[str] = []
        for line in [*path.read_text().splitlines(), ""]:
            if line.startswith("|"):
                table.append(line)
                continue
            if any("`tag-matches`" in row for row in table):
                names = [re.match(r"\|\s*`([a-z-]+)`\s*\|", row) for row in table]
                found.append((str(path.relative_to(REPO_ROOT)), [m[1] for m in names if m]))
            table = []
    return found


def test_the_rules_table_lists_exactly_the_rules() -> None:
    """Every refusal names a rule a person can look up, and the table names no rule that is gone."""
    tables = _rules_tables()
    assert len(tables) == 1, f"expected one rules table (with `tag-matches`), found {tables}"
    where, names = tables[0]
    assert len(names) == len(set(names)), f"{where}: a rule is listed twice: {names}"
    assert set(names) == {r.value for r in Rule}, (
        f"{where}: missing {sorted({r.value for r in Rule} - set(names))}, "
        f"unknown {sorted(set(names) - {r.value for r in Rule})}"
    )
