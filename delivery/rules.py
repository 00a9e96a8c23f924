"""The promotion rules, one function each: every refusal names its rule and what to do.

`delivery.promotion` calls these through the module (`rules.load_test_passed(...)`), so each
rule has one home, and the tests can switch any single rule off and watch the promotion state
machine catch the release that then slips through.
"""

from __future__ import annotations

from core.errors import GateError
from core.verdicts import Rule, Verdict
from store import release as rel

PIPELINE = "pipeline"


class PromotionRefused(GateError):
    """A promotion rule failed; nothing was written."""

    def __init__(self, rule: Rule, message: str) -> None:
        super().__init__(f"refused ({rule}): {message}")
        self.rule = rule
        self.reason = message  # without the "refused (rule): " prefix, for callers that go on


def stage_order(promote_from: str, src: str | None, dst: str) -> None:
    """`dst` takes releases only from its `deploy.promote_from` (empty: the pipeline)."""
    if (promote_from or None) == src:
        return
    if src is None:
        raise PromotionRefused(
            Rule.STAGE_ORDER,
            f"{dst} takes releases from {promote_from} "
            f"(deploy.promote_from); use `mlops promote --from "
            f"{promote_from} --to {dst}`",
        )
    expected = promote_from or f"the pipeline (`mlops promote --to {dst}`)"
    raise PromotionRefused(
        Rule.STAGE_ORDER,
        f"{dst} takes releases only from {expected} "
        f"(deploy.promote_from in environments/{dst}/config.yaml); stages "
        f"are not skipped",
    )


def source_released(src: str, record: rel.Record | None) -> rel.Release:
    if record is None:
        raise PromotionRefused(
            Rule.SOURCE_RELEASED, f"{src} has no release yet; promote to {src} first"
        )
    return record.current


def load_test_passed(src: str, release: rel.Release) -> None:
    if release.loadtest.verdict != Verdict.PASS:
        raise PromotionRefused(
            Rule.LOAD_TEST_PASSED,
            f"{src}'s release {release.short()} has "
            f"load-test verdict {release.loadtest.verdict}; run `mlops "
            f"loadtest --env {src} --record` against it and promote once it "
            f"passes",
        )


def analysis_passed(src: str, strategy: str, release: rel.Release) -> None:
    """Out of a shadow or canary environment only a release with its own recorded PASS moves:
    a gate that could not measure (no analysis, or one of another artifact) never passes.
    Skipping the analysis is a reviewed config change (rollout.strategy none), never silent."""
    if strategy == "none":
        return
    analysis = release.analysis
    if analysis.verdict == Verdict.PASS and analysis.judged(release):
        return
    what = f"{src}'s release {release.short()}"
    run = (
        f"run `mlops analyze --env {src} --prometheus URL --record` against the Prometheus "
        f"that scrapes {src}"
    )
    skip = (
        f"or, if {src} has no Prometheus, set `rollout.strategy: none` in "
        f"environments/{src}/config.yaml in a reviewed pull request"
    )
    if analysis.verdict == Verdict.NONE:
        why = (
            f"{what} has no recorded {strategy} analysis; {run} and promote once it passes, {skip}"
        )
    elif not analysis.judged(release):
        judged = (
            f"version {analysis.version} ({analysis.digest[7:19]})"
            if analysis.version is not None
            else "no named release"
        )
        why = (
            f"{what} has no {strategy} analysis of its own (the recorded {analysis.verdict} "
            f"judged {judged}); {run} and promote once it passes, {skip}"
        )
    else:
        why = (
            f"{what} has {strategy} analysis verdict {analysis.verdict}; fix the candidate "
            f"(or, if inconclusive, send it more traffic), re-run `mlops analyze --env {src} "
            f"--prometheus URL --record`, and promote once it passes"
        )
    raise PromotionRefused(Rule.ANALYSIS_PASSED, why)


def not_already_there(dst: str, target: rel.Record | None, release: rel.Release) -> None:
    if target is not None and target.current.same_artifact(release):
        raise PromotionRefused(
            Rule.NOT_ALREADY_THERE, f"{dst} already runs {release.short()}; nothing to promote"
        )


def expected_version(expected: int | None, actual: int, what: str) -> None:
    """What a person approved (the prod workflow's version input) is what moves."""
    if expected is not None and expected != actual:
        raise PromotionRefused(
            Rule.EXPECTED_VERSION,
            f"{what} is version {actual}, not the "
            f"approved version {expected}; re-run the approval with the "
            f"version `mlops status` shows",
        )


def previous_release(env: str, record: rel.Record | None) -> rel.Release:
    """The newest earlier release that was not itself rolled back."""
    history = record.history if record is not None else []
    for release in history:
        if not release.rolled_back_at:
            return release
    why = (
        f" (every earlier release in environments/{env}/release.yaml was rolled back)"
        if history
        else ""
    )
    raise PromotionRefused(
        Rule.PREVIOUS_RELEASE, f"{env} has no previous release to roll back to{why}"
    )
