"""The run report (report/): every section present, stopped runs and missing inputs said in words,
an undefined slice metric shown as undefined (never 0), the load test only for its own model.

Built from made-up summaries, so no pipeline runs here; the end-to-end run opens the real report
in a browser (tests/end_to_end/test_pipeline_run.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from core import config
from core.metrics import lower_is_better
from pipeline.summary import MetricRow, RunSummary
from report import build, inputs, mermaid
from report.page import SECTIONS, Inputs, render
from tests.support.project import MODEL


@pytest.fixture
def cfg(environments: Path, tmp_path: Path):
    return config.load("dev", environments, output_root=str(tmp_path / "run"))


def _summary(**changes) -> RunSummary:
    summary = RunSummary(
        environment="dev",
        pipeline_name="taxi-tips-dev",
        components=[],
        data_validation="PASS",
        anomalies=[],
        gated_metric="auc",
        blessed=True,
        overall=MetricRow("overall", {"auc": 0.91, "example_count": 900.0}),
        slices=[
            MetricRow(
                "payment_type=Cash",
                {"auc": None, "example_count": 40.0},
                undefined={"auc": "one class"},
            ),
            MetricRow("payment_type=Credit Card", {"auc": 0.88, "example_count": 860.0}),
        ],
        pushed=True,
        new_version=True,
        pushed_version="7",
        model_digest="sha256:" + "a" * 64,
        eval_span=2,
        spans=[1, 2],
    )
    for key, value in changes.items():
        setattr(summary, key, value)
    return summary


def _sections(page: str) -> dict[str, str]:
    found = dict(re.findall(r'<section id="([a-z-]+)">(.*?)</section>', page, re.S))
    assert list(found) == list(SECTIONS), "every section, in order"
    for key, body in found.items():
        assert re.sub(r"<h2>.*?</h2>", "", body).strip(), f"section {key} is blank"
    return found


def test_an_undefined_slice_metric_reads_undefined_never_zero(cfg) -> None:
    page = render(Inputs(cfg=cfg, summary=_summary()))
    evaluation = _sections(page)["evaluation"]
    row = re.search(r"<td>payment_type=Cash</td><td>(.*?)</td>", evaluation)
    assert row is not None and "undefined (one class)" in row.group(1)
    chart = re.search(r'<figure id="slice-chart">(.*?)</figure>', evaluation, re.S)
    assert chart is not None
    labels = re.findall(r"<text[^>]*>([^<]*)</text>", chart.group(1))
    assert "undefined (one class)" in labels
    assert {"payment_type=Cash", "payment_type=Credit Card"} <= set(labels)
    # One bar (the defined slice), none drawn for Cash.
    assert "0.0000" not in evaluation


def test_the_page_fetches_nothing_and_runs_no_script(cfg) -> None:
    page = render(Inputs(cfg=cfg, summary=_summary()))
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert not re.search(r"url\((?!#)", page) and "@import" not in page  # only in-page ids
    assert 'name="viewport"' in page  # phones lay it out at their own width


def test_missing_sections_say_so_in_words(cfg) -> None:
    summary = _summary(has_baseline=False, baseline_note="environments/dev has no release yet")
    page = render(Inputs(cfg=cfg, summary=summary, loadtest_note="No load test has run yet."))
    found = _sections(page)
    assert "No baseline (environments/dev has no release yet)" in found["evaluation"]
    assert "No load test has run yet." in found["loadtest"]
    assert "No statistics" in found["statistics"]
    assert "No training history" in found["training"]
    assert "No release yet." in found["releases"] or "No environments" in found["releases"]


def test_a_run_stopped_at_the_data_gate_shows_why_and_which_features(cfg) -> None:
    summary = _summary(
        data_validation="FAIL",
        anomalies=[
            {
                "split": "train",
                "feature": "trip_miles",
                "kinds": ["LOW_RADIUS"],
                "description": "values below the domain",
            }
        ],
        blessed=None,
        overall=None,
        slices=[],
        pushed=False,
        pushed_version=None,
    )
    stopped = "data validation failed: 1 anomaly in trip_miles"
    page = render(Inputs(cfg=cfg, summary=summary, stopped=stopped))
    found = _sections(page)
    assert "STOPPED" in page and stopped in page
    assert '<span class="FAIL">FAIL</span>' in found["data-gate"]
    assert "trip_miles" in found["data-gate"] and "LOW_RADIUS" in found["data-gate"]
    assert "stopped before the Evaluator" in found["evaluation"]
    assert "stopped before the Evaluator" in found["blessing"]


def test_a_run_stopped_at_the_drift_gate_names_the_drifted_features(cfg) -> None:
    drift = {
        "verdict": "FAIL",
        "mode": "stop",
        "span": 3,
        "baseline_spans": [1, 2],
        "examples": 500,
        "min_examples": 100,
        "note": "",
        "measures": [
            {"feature": "fare", "measure": "jensen_shannon", "value": 0.4, "threshold": 0.1},
            {"feature": "trip_miles", "measure": "jensen_shannon", "value": 0.02, "threshold": 0.1},
        ],
    }
    summary = _summary(drift=drift, blessed=None, overall=None, slices=[])
    page = render(Inputs(cfg=cfg, summary=summary, stopped="drift: fare drifted"))
    table = _sections(page)["drift"]
    rows = dict(
        re.findall(r"<tr><td>([a-z_]+)</td>.*?<td>(DRIFTED|ok|<span[^<]*DRIFTED</span>)", table)
    )
    assert "DRIFTED" in rows["fare"] and rows["trip_miles"] == "ok"
    assert "0.4000" in table and "0.1" in table


def test_no_summary_at_all_still_writes_a_page(cfg, environments: Path) -> None:
    path, _, _ = build.write(
        cfg, None, stopped="stopped", summary_note="MLMD unreadable", environments_dir=environments
    )
    page = path.read_text()
    assert path == Path(cfg.work_dir) / "report.html"
    assert "MLMD unreadable" in _sections(page)["data-gate"]


def _loadtest_folder(cfg, served: list[int]) -> None:
    folder = Path(cfg.work_dir) / inputs.LOADTEST_DIR
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "passed": True,
                "users": 4,
                "requests": 300,
                "failures": 0,
                "rps": 30.0,
                "finished_at": "now",
                "checks": [
                    {
                        "name": "p95 latency",
                        "measured": 40.0,
                        "unit": " ms",
                        "limit": 250.0,
                        "ok": True,
                    }
                ],
            }
        )
    )
    build.record_served(cfg, set(served))
    head = "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,95%,99%\n"
    rows = "".join(
        f"{100 + t},4,,Aggregated,{20 + t},0,{10 + t},{30 + t},{45 + t}\n" for t in range(5)
    )
    (folder / inputs.HISTORY_CSV).write_text(head + rows)


def test_the_load_test_shows_over_time_against_the_slo_lines(cfg) -> None:
    _loadtest_folder(cfg, served=[7])
    run, note = inputs.loadtest(cfg, "7")
    assert run is not None and note == ""
    assert run.seconds == [0, 1, 2, 3, 4] and run.percentiles["p95"][0] == 30
    section = _sections(render(Inputs(cfg=cfg, summary=_summary(), loadtest=run)))["loadtest"]
    slo = cfg.loadtest.slo
    for line in (
        f"SLO p95 {slo.p95_ms:g} ms",
        f"SLO p99 {slo.p99_ms:g} ms",
        f"SLO min {slo.min_rps:g} req/s",
    ):
        assert line in section
    assert section.count("<svg") == 2


def test_a_load_test_of_another_version_is_not_shown_as_this_models(cfg) -> None:
    _loadtest_folder(cfg, served=[6])
    run, note = inputs.loadtest(cfg, "7")
    assert run is None and "version(s) 6" in note and "(7)" in note


def test_every_environments_release_history_on_one_page(cfg, environments: Path) -> None:
    from store import release as rel

    current = rel.Release(
        model_name=MODEL,
        version=9,
        digest="sha256:" + "b" * 64,
        uri="x",
        promoted_from="pipeline",
        metrics={"auc": 0.9},
    )
    earlier = rel.Release(
        model_name=MODEL,
        version=8,
        digest="sha256:" + "c" * 64,
        uri="x",
        promoted_from="pipeline",
    )
    rel.write(environments, rel.Record(environment="dev", current=current, history=[earlier]))
    shown = build.gather(cfg, _summary(), environments_dir=environments)
    assert list(shown.releases) == config.promotion_order(environments)
    section = _sections(render(shown))["releases"]
    assert "<td>9</td>" in section and "<td>8</td>" in section and "auc 0.9000" in section
    assert section.count("No release yet.") == len(shown.releases) - 1


def test_the_job_summary_chart_leaves_undefined_slices_out_and_names_them(cfg) -> None:
    text = mermaid.charts(
        Inputs(cfg=cfg, summary=_summary(), history={"loss": [0.5, 0.3], "val_loss": [0.6, 0.4]})
    )
    bar = re.search(r"x-axis (\[.*\])\n.*\n  bar (\[.*\])", text)
    assert bar is not None
    assert json.loads(bar.group(1)) == ["payment_type=Credit Card"]
    assert json.loads(bar.group(2)) == [0.88]
    assert "payment_type=Cash (one class)" in text
    assert "xychart-beta" in text and "line [0.5000, 0.3000]" in text


def _gated(environments: Path) -> str:
    return config.load("staging", environments).evaluation.metric


def _released(environments: Path, report: str) -> None:
    """dev and staging hold version 9 with the configured gated metric at 0.9123 and another
    metric at 0.8, whatever task the project is."""
    from store import release as rel

    dev = rel.Release(
        model_name=MODEL,
        version=9,
        digest="sha256:" + "b" * 64,
        uri="x",
        promoted_from="pipeline",
        metrics={_gated(environments): 0.9123, "binary_accuracy": 0.8},
        loadtest=rel.LoadTest(verdict="PASS", p95_ms=41.0, p99_ms=80.0, rps=33.3),
        spans=[1, 2],
        pipeline_run="run-1",
        git_commit="abcdef1234567890",
        report=report,
    )
    rel.write(environments, rel.Record(environment="dev", current=dev))
    staging = rel.Release(**{**dev.__dict__, "promoted_from": "dev", "loadtest": rel.LoadTest()})
    rel.write(environments, rel.Record(environment="staging", current=staging))


def test_the_promotion_figures_carry_the_metrics_load_test_and_report_link(
    environments: Path,
) -> None:
    from report import releases

    url = "https://github.com/acme/taxi/actions/runs/42"
    _released(environments, url)
    text = releases.headline(environments, "staging")
    gated = _gated(environments)
    mark = "(gated, lower is better)" if lower_is_better(gated) else "(gated)"  # rmse: lower
    assert f"| {gated} {mark} | 0.9123 |" in text and "| binary_accuracy | 0.8000 |" in text
    assert "| load test in dev | PASS: p95 41 ms, p99 80 ms, 33.3 req/s |" in text
    assert f"]({url})" in text
    _released(environments, "")
    assert "No run report is linked" in releases.headline(environments, "staging")
    assert releases.headline(environments, "prod") == "`prod` has no release yet."


def test_status_html_shows_every_environments_history(environments: Path, tmp_path: Path) -> None:
    from mlops.cli import main

    _released(environments, "")
    out = tmp_path / "releases.html"
    assert main(["--environments", str(environments), "status", "--html", str(out)]) == 0
    page = out.read_text()
    assert [h for h in re.findall(r"<h2>(\w+)</h2>", page)] == ["dev", "staging", "prod"]
    assert page.count("<td>9</td>") == 2 and "No release yet." in page


def test_a_load_test_refreshes_the_last_runs_report(cfg, environments: Path) -> None:
    """What `mlops loadtest` does: the report is re-written from run_summary.json, now with the
    load test of the run's pushed model; a summary key this version does not know is ignored."""
    assert "no finished run here" in str(build.refresh(cfg, environments))
    summary = _summary()
    Path(cfg.paths.pipeline_root).parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(summary.to_json()) | {"from_a_newer_version": 1}
    del data["overall"]["slice"]  # as tests/support/candidates.py writes it: {"metrics": {}}
    (Path(cfg.paths.pipeline_root).parent / "run_summary.json").write_text(json.dumps(data))
    _loadtest_folder(cfg, served=[7])
    path = build.refresh(cfg, environments)
    assert isinstance(path, Path)
    section = _sections(path.read_text())["loadtest"]
    assert '<span class="PASS">PASS</span>' in section and section.count("<svg") == 2
    assert "undefined (one class)" in _sections(path.read_text())["evaluation"]


def test_an_unreadable_run_summary_never_fails_the_load_test(cfg, environments: Path) -> None:
    """A summary written by hand or another version (a slice row without its name): the refresh
    says why it skipped the report instead of raising out of `mlops loadtest`."""
    Path(cfg.paths.pipeline_root).parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(_summary().to_json())
    data["slices"] = [{"metrics": {}}]
    (Path(cfg.paths.pipeline_root).parent / "run_summary.json").write_text(json.dumps(data))
    said = build.refresh(cfg, environments)
    assert isinstance(said, str) and "could not be read for the report (TypeError" in said


def _stats(shift: float) -> dict[int, list[inputs.FeatureStats]]:
    def feature(name: str) -> inputs.FeatureStats:
        edges = [0.0 + shift, 1.0 + shift, 2.0 + shift]
        figures = {"mean": 1.0, "std": 0.5, "min": 0.0, "median": 1.0, "max": 2.0}
        return inputs.FeatureStats(
            name, "numeric", 100, 0.0, figures=figures, edges=edges, counts=[60.0, 40.0]
        )

    return {1: [feature("fare"), feature("trip_miles")]}


def test_an_unchanged_histogram_is_read_back_and_a_changed_one_redrawn(
    cfg, tmp_path: Path, monkeypatch
) -> None:
    """A no-change re-run reuses the drawn histograms; new statistics never show a stale one,
    and only the latest report's charts stay in the cache."""
    from report import charts

    cache = tmp_path / "charts"
    first = render(Inputs(cfg=cfg, summary=_summary(), statistics=_stats(0.0), chart_cache=cache))
    assert len(list(cache.iterdir())) == 2

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged histogram was drawn again")

    with monkeypatch.context() as m:
        m.setattr(charts, "histogram_chart", refuse)
        again = render(
            Inputs(cfg=cfg, summary=_summary(), statistics=_stats(0.0), chart_cache=cache)
        )
    assert _sections(again)["statistics"] == _sections(first)["statistics"]
    moved = render(Inputs(cfg=cfg, summary=_summary(), statistics=_stats(5.0), chart_cache=cache))
    uncached = render(Inputs(cfg=cfg, summary=_summary(), statistics=_stats(5.0)))
    assert _sections(moved)["statistics"] == _sections(uncached)["statistics"]
    assert _sections(moved)["statistics"] != _sections(first)["statistics"]
    assert len(list(cache.iterdir())) == 2  # the first run's two charts were pruned
