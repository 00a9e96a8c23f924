"""The load-test verdict in detail: locust's figures as read, each SLO line, the gate's message.

tests/serving/test_loadtest_gate.py covers each breach and the real command; these pin the edge
cases a person relies on when a gate fails: no requests at all, locust's "N/A" cells, and the
exact text the gate prints.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from core import config
from core.errors import MlopsError
from serving import loadtest

SLO = config.SloConfig(p95_ms=100, p99_ms=200, max_failure_ratio=0.01, min_rps=50)
HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def _stats_csv(tmp_path: Path, aggregated: str, header: str = HEADER) -> Path:
    (tmp_path / "locust_stats.csv").write_text(f"{header}\n{aggregated}\n")
    return tmp_path / "locust"


def test_no_request_at_all_reads_as_no_throughput_and_unbounded_latency(tmp_path: Path) -> None:
    """Locust still fills the cells when nothing completed; the figures must not pass."""
    prefix = _stats_csv(tmp_path, ",Aggregated,0,0,5,6,1,9,30,2.5,0,5,6,6,7,8,9,9,9,9,9,9")
    stats = loadtest.read_locust_stats(prefix)
    assert stats["requests"] == 0 and stats["failures"] == 0
    assert stats["rps"] == 0.0
    assert [stats[k] for k in ("p50_ms", "p95_ms", "p99_ms")] == [math.inf] * 3


@pytest.mark.parametrize("cell", ["N/A", ""])
def test_a_percentile_locust_could_not_compute_is_unbounded(cell: str, tmp_path: Path) -> None:
    prefix = _stats_csv(tmp_path, f",Aggregated,10,0,5,6,1,9,30,2.5,0,5,6,6,7,8,{cell},9,9,9,9,9")
    stats = loadtest.read_locust_stats(prefix)
    assert stats["p95_ms"] == math.inf and stats["p99_ms"] == 9.0 and stats["p50_ms"] == 5.0


def test_a_percentile_column_locust_did_not_write_is_unbounded(tmp_path: Path) -> None:
    header = HEADER.replace(",95%", "")
    prefix = _stats_csv(
        tmp_path, ",Aggregated,10,0,5,6,1,9,30,2.5,0,5,6,6,7,8,9,9,9,9,9", header=header
    )
    assert loadtest.read_locust_stats(prefix)["p95_ms"] == math.inf


def test_missing_statistics_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MlopsError) as caught:
        loadtest.read_locust_stats(tmp_path / "locust")
    assert (
        str(caught.value)
        == f"locust wrote no statistics ({tmp_path / 'locust_stats.csv'} is missing)"
    )
    prefix = _stats_csv(
        tmp_path, "POST,/v1/models/m:predict,10,0,5,6,1,9,30,2.5,0,5,6,6,7,8,9,9,9,9,9,9"
    )
    with pytest.raises(MlopsError) as caught:
        loadtest.read_locust_stats(prefix)
    assert str(caught.value) == f"{tmp_path / 'locust_stats.csv'} has no Aggregated row"


def test_no_request_counts_as_every_request_failed() -> None:
    checks = loadtest.evaluate(
        {
            "requests": 0,
            "failures": 0,
            "rps": 0.0,
            "p50_ms": math.inf,
            "p95_ms": math.inf,
            "p99_ms": math.inf,
        },
        config.SloConfig(p95_ms=1e9, p99_ms=1e9, max_failure_ratio=1.0, min_rps=0),
    )
    ratio = next(c for c in checks if c.key == "max_failure_ratio")
    assert ratio.measured == 1.0 and ratio.ok  # the most lenient limit still holds exactly
    assert ratio.line() == "failure ratio: 1 (limit <= 1, loadtest.slo.max_failure_ratio) ok"


def test_each_line_shows_measured_limit_key_and_verdict() -> None:
    lines = [
        c.line()
        for c in loadtest.evaluate(
            {
                "requests": 1000,
                "failures": 1,
                "rps": 120.0,
                "p50_ms": 10.0,
                "p95_ms": 100.0,
                "p99_ms": 250.0,
            },
            SLO,
        )
    ]
    assert lines == [
        "p95 latency: 100 ms (limit <= 100 ms, loadtest.slo.p95_ms) ok",
        "p99 latency: 250 ms (limit <= 200 ms, loadtest.slo.p99_ms) BREACHED",
        "failure ratio: 0.001 (limit <= 0.01, loadtest.slo.max_failure_ratio) ok",
        "throughput: 120 req/s (limit >= 50 req/s, loadtest.slo.min_rps) ok",
    ]


def _result(tmp_path: Path, samples: list[str], **stats: float) -> loadtest.LoadTestResult:
    figures = {
        "requests": 1000,
        "failures": 0,
        "rps": 120.0,
        "p50_ms": 10.0,
        "p95_ms": 40.0,
        "p99_ms": 90.0,
        **stats,
    }
    return loadtest.LoadTestResult(
        env="staging",
        url="http://127.0.0.1:1",
        users=4,
        seconds=10,
        requests=int(figures["requests"]),
        failures=int(figures["failures"]),
        rps=figures["rps"],
        p50_ms=figures["p50_ms"],
        p95_ms=figures["p95_ms"],
        p99_ms=figures["p99_ms"],
        checks=loadtest.evaluate(figures, SLO),
        reports_dir=str(tmp_path),
        failure_samples=samples,
    )


def test_the_gate_message_lists_each_breach_then_examples_then_reports(tmp_path: Path) -> None:
    result = _result(
        tmp_path, ["3x HTTPError 500", "1x ConnectionRefused"], p95_ms=150.0, failures=20
    )
    with pytest.raises(loadtest.LoadTestFailed) as caught:
        loadtest.gate(result)
    assert str(caught.value) == (
        "load test failed for staging; SLOs breached:\n"
        "  p95 latency: 150 ms (limit <= 100 ms, loadtest.slo.p95_ms) BREACHED\n"
        "  failure ratio: 0.02 (limit <= 0.01, loadtest.slo.max_failure_ratio) BREACHED\n"
        "  e.g. 3x HTTPError 500\n"
        "  e.g. 1x ConnectionRefused\n"
        f"Reports: {tmp_path}"
    )


def test_a_passing_result_goes_through_the_gate(tmp_path: Path) -> None:
    result = _result(tmp_path, [])
    assert result.passed
    loadtest.gate(result)  # a pass raises nothing
