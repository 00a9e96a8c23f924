"""`mlops status` shows each environment's analysis beside its load test, and a release waiting
for one is pending on the analysis, not shown as ready to promote."""

from __future__ import annotations

import dataclasses

from core.verdicts import Verdict
from delivery import status
from store import release as rel
from tests.support.stores import Repo


def _rows(repo: Repo) -> tuple[dict[str, list[str]], list[str]]:
    lines = status.table(repo.delivery).splitlines()
    header = lines[0].split()
    assert header[5:8] == ["load", "test", "analysis"], header
    rows = {line.split()[0]: line.split() for line in lines[1:4]}
    return rows, lines[4:]


def test_status_shows_the_analysis_and_what_it_waits_for(repo: Repo) -> None:
    repo.push()
    repo.delivery.promote_from_pipeline("dev")
    repo.pass_loadtest("dev")
    repo.delivery.promote("dev", "staging")
    repo.pass_loadtest("staging")
    rows, pending = _rows(repo)
    assert rows["dev"][-2:] == ["-", "pipeline"]  # strategy none: no analysis column to judge
    assert rows["staging"][-3:] == ["PASS", "NONE", "dev"]
    (line,) = [p for p in pending if "-> prod" in p or "go to prod" in p]
    assert "waits for a passing shadow analysis in staging before it can go to prod" in line
    assert "mlops analyze --env staging --prometheus URL --record" in line

    repo.pass_analysis("staging")
    rows, pending = _rows(repo)
    assert rows["staging"][-3:] == ["PASS", "PASS", "dev"]
    assert any("can be promoted staging -> prod" in p for p in pending), pending


def test_status_marks_a_verdict_of_another_release() -> None:
    release = rel.Release(model_name="m", version=4, digest="sha256:" + "a" * 64, uri="x")
    release.analysis = rel.Analysis(Verdict.PASS, version=3, digest="sha256:" + "b" * 64)
    assert status.analysis("shadow", release) == "PASS (of another release)"
    own = dataclasses.replace(release.analysis, version=4, digest=release.digest)
    assert status.analysis("canary", dataclasses.replace(release, analysis=own)) == "PASS"
    assert status.analysis("none", release) == "-"
