"""Verdicts and rule names are enums whose text is what records, reports and JSON hold."""

from __future__ import annotations

import json

from core.verdicts import Rule, Verdict
from store import release as rel
from tests.support.project import MODEL


def test_the_words_written_to_records_and_reports_do_not_change() -> None:
    assert [v.value for v in Verdict] == ["PASS", "FAIL", "WARN", "SKIPPED", "NONE", "INCONCLUSIVE"]
    assert Rule.TAG_MATCHES.value == "tag-matches" and Rule.STORE.value == "store"


def test_a_member_reads_as_its_text_everywhere() -> None:
    for member in (Verdict.PASS, Rule.LOAD_TEST_PASSED):
        text = member.value
        assert member == text and hash(member) == hash(text)
        assert str(member) == text and type(str(member)) is str
        assert f"{member}" == text and f"[{member:>20}]" == f"[{text:>20}]"
        assert "%s" % member == text  # noqa: UP031 - the old-style formatting other code uses
        assert json.dumps({"verdict": member}) == json.dumps({"verdict": text})


def test_a_record_holding_a_verdict_member_is_written_as_plain_text(tmp_path) -> None:
    release = rel.Release(MODEL, 3, "sha256:" + "ab" * 32, "build/store/3")
    record = rel.Record("dev", release, [rel.Release(MODEL, 2, "sha256:" + "cd" * 32, "x")])
    release.loadtest = rel.LoadTest(Verdict.PASS)
    text = record.to_yaml()
    assert "    verdict: PASS\n" in text and "    verdict: NONE\n" in text
    assert "Verdict" not in text and "!!python" not in text
    rel.write(tmp_path, record)
    back = rel.read(tmp_path, "dev")
    assert back is not None and back.current.loadtest.verdict == Verdict.PASS
    assert type(back.current.loadtest.verdict) is str
