"""Each promotion rule on its own: when it refuses, and the exact words a user acts on."""

from __future__ import annotations

import pytest

from delivery import rules
from delivery.rules import PromotionRefused
from store import release as rel


def _release(version: int = 7, verdict: str = "PASS") -> rel.Release:
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
    exc = PromotionRefused("some-rule", "what to do")
    assert (exc.rule, exc.exit_code) == ("some-rule", 1)
    assert str(exc) == "refused (some-rule): what to do"


def test_stage_order() -> None:
    rules.stage_order("", None, "dev")
    rules.stage_order("dev", "dev", "staging")
    exc = _refused(rules.stage_order, "dev", None, "staging")
    assert (exc.rule, str(exc)) == (
        "stage-order",
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


def test_source_released() -> None:
    record = rel.Record("dev", _release())
    assert rules.source_released("dev", record) is record.current
    exc = _refused(rules.source_released, "dev", None)
    assert (exc.rule, str(exc)) == (
        "source-released",
        "refused (source-released): dev has no release yet; promote to dev first",
    )


@pytest.mark.parametrize("verdict", ["NONE", "FAIL"])
def test_load_test_passed(verdict: str) -> None:
    rules.load_test_passed("dev", _release(verdict="PASS"))
    exc = _refused(rules.load_test_passed, "dev", _release(verdict=verdict))
    assert (exc.rule, str(exc)) == (
        "load-test-passed",
        (
            f"refused (load-test-passed): dev's release version 7 (abababababab) has load-test "
            f"verdict {verdict}; run `mlops loadtest --env dev --record` against it and promote "
            f"once it passes"
        ),
    )


def test_not_already_there() -> None:
    rules.not_already_there("staging", None, _release())
    rules.not_already_there("staging", rel.Record("staging", _release(6)), _release(7))
    exc = _refused(
        rules.not_already_there, "staging", rel.Record("staging", _release()), _release()
    )
    assert (exc.rule, str(exc)) == (
        "not-already-there",
        "refused (not-already-there): staging "
        "already runs version 7 (abababababab); nothing to promote",
    )


def test_expected_version() -> None:
    rules.expected_version(None, 7, "x")
    rules.expected_version(7, 7, "x")
    exc = _refused(rules.expected_version, 8, 7, "staging's release")
    assert (exc.rule, str(exc)) == (
        "expected-version",
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
            "previous-release",
            "refused (previous-release): dev has no previous release to roll back to",
        )
