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
    """A release whose shadow or canary analysis in `src` failed, or stayed inconclusive, goes
    no further. Where no analysis was recorded (NONE: no cluster Prometheus judged it) the
    load test is the gate, as for an environment with rollout.strategy none."""
    if strategy == "none":
        return
    verdict = release.analysis.verdict
    if verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        raise PromotionRefused(
            Rule.ANALYSIS_PASSED,
            f"{src}'s release {release.short()} has {strategy} analysis verdict {verdict}; "
            f"fix the candidate (or, if inconclusive, send it more traffic), re-run "
            f"`mlops analyze --env {src} --prometheus URL --record`, and promote once it "
            f"passes",
        )


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
