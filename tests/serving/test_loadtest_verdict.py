"""The load-test verdict in detail: locust's figures as read, each SLO line, the gate's message,
and `judge`, the pure decision over locust's figures that makes the gate fail closed.

tests/serving/test_loadtest_gate.py covers each breach and the real command; these pin the edge
cases a person relies on when a gate fails: no requests at all, locust's "N/A" cells, requests
that never reached the server, crashed users, too few requests for the window, and the exact
text the gate prints. tests/serving/test_loadtest_fails_closed.py runs the same cases for real.
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
    assert [stats[k] for k in ("avg_ms", "p50_ms", "p95_ms", "p99_ms")] == [math.inf] * 4


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


# --- judge: the decision over locust's figures -------------------------------------------------

LENIENT = config.SloConfig(p95_ms=3.6e6, p99_ms=3.6e6, max_failure_ratio=1.0, min_rps=0)
# What locust writes for a request the server never answered, and for an answer that was wrong.
REFUSED = (
    "CatchResponseError(\"connection error: ConnectionRefusedError(111, 'Connection refused')\")"
)
RESET = "CatchResponseError(\"connection error: ConnectionResetError(104, 'Connection reset')\")"
HTTP_500 = 'CatchResponseError(\'HTTP 500: {"error": "boom"}\')'


def _figures(**overrides: float) -> dict[str, float]:
    """4 users for 10 s at a mean of 10 ms: 4000 requests is exactly what a closed loop sends."""
    return {
        "requests": 4000,
        "failures": 0,
        "rps": 400.0,
        "avg_ms": 10.0,
        "p50_ms": 9.0,
        "p95_ms": 20.0,
        "p99_ms": 30.0,
        **overrides,
    }


def _judge(slo: config.SloConfig = LENIENT, **kwargs) -> loadtest.Judgement:
    figures = kwargs.pop("figures", _figures())
    return loadtest.judge(figures, slo, users=4, seconds=10, **kwargs)


def test_a_closed_loop_sends_one_request_per_user_per_response_time_plus_wait() -> None:
    assert loadtest.expected_requests(4, 10, 10.0, 0.0) == 4000
    assert loadtest.expected_requests(4, 10, 10.0, 0.01) == 2000
    assert loadtest.expected_requests(16, 15, 20.0, 0.0) == 12000
    assert loadtest.expected_requests(4, 10, 0.0, 0.0) == math.inf  # nothing to divide by
    assert loadtest.USER_WAIT_SECONDS == 0.0 and loadtest.MIN_REQUEST_SHARE == 0.5


def test_a_healthy_run_has_no_problem_and_every_slo_checked() -> None:
    verdict = _judge(SLO)
    assert verdict.problems == []
    assert [c.key for c in verdict.checks] == ["p95_ms", "p99_ms", "max_failure_ratio", "min_rps"]
    assert all(c.ok for c in verdict.checks)
    assert verdict.expected_requests == 4000 and verdict.rps == 400.0


def test_throughput_is_requests_over_the_whole_window_not_locusts_rate() -> None:
    """The issue's run: locust reported 1640 req/s, its rate up to the last counted request."""
    verdict = _judge(figures=_figures(requests=2500, rps=1640.0))
    throughput = next(c for c in verdict.checks if c.key == "min_rps")
    assert verdict.rps == 250.0 and throughput.measured == 250.0


def test_no_request_at_all_is_a_problem_whatever_the_slos() -> None:
    verdict = _judge(figures=_figures(requests=0, rps=0.0, avg_ms=math.inf))
    assert verdict.problems == [
        "no request completed in the 10 s measured window: nothing was measured, so nothing "
        "can pass"
    ]
    assert verdict.rps == 0.0


def test_half_the_expected_requests_is_the_least_a_run_may_send() -> None:
    assert _judge(figures=_figures(requests=2000)).problems == []
    assert _judge(figures=_figures(requests=2000, avg_ms=10.0), wait_seconds=0.0).problems == []
    verdict = _judge(figures=_figures(requests=1999))
    assert verdict.problems == [
        "only 1999 requests in the 10 s measured window, where 4 users waiting 0 s after each "
        "answer, at the mean response time of 10.0 ms, would send about 4000; fewer than 50% "
        "of that means users stopped sending or their requests went uncounted (see locust.log)"
    ]


def test_the_wait_time_lowers_what_the_window_implies() -> None:
    """With 10 ms between requests the same users send half as much: 1000 is then enough."""
    assert _judge(figures=_figures(requests=1000), wait_seconds=0.01).problems == []
    short = _judge(figures=_figures(requests=999), wait_seconds=0.01).problems
    assert len(short) == 1 and "waiting 0.01 s" in short[0] and "about 2000" in short[0]


def test_requests_that_never_reached_the_server_fail_the_run() -> None:
    """Even with every failure allowed by the SLOs, a server that went away cannot pass."""
    verdict = _judge(
        figures=_figures(failures=12),
        failures=[(HTTP_500, 3), (REFUSED, 7), (RESET, 2)],
    )
    assert verdict.problems == [
        f"9 request(s) could not reach the server (e.g. {REFUSED}): it stopped or refused "
        "connections during the test; check that it stays up for the whole run"
    ]
    assert all(c.ok for c in verdict.checks)


def test_failed_answers_alone_are_left_to_the_failure_ratio_slo() -> None:
    verdict = _judge(SLO, figures=_figures(failures=3), failures=[(HTTP_500, 3)])
    assert verdict.problems == []
    ratio = next(c for c in verdict.checks if c.key == "max_failure_ratio")
    assert ratio.measured == 3 / 4000 and ratio.ok


def test_a_crashed_user_fails_the_run() -> None:
    """The issue's run: every connection error raised TypeError in the user and went uncounted."""
    verdict = _judge(
        exceptions=[("'NoneType' object is not subscriptable", 7266), ("boom", 4)],
    )
    assert verdict.problems == [
        "locust users crashed with 7270 exception(s) (e.g. 'NoneType' object is not "
        "subscriptable): the requests they were making were never counted; see "
        "locust_exceptions.csv and locust.log"
    ]


def test_every_problem_is_reported_not_only_the_first() -> None:
    verdict = _judge(
        figures=_figures(requests=100, failures=100),
        failures=[(REFUSED, 100)],
        exceptions=[("boom", 1)],
    )
    assert [p.split(" ", 2)[:2] for p in verdict.problems] == [
        ["only", "100"],
        ["100", "request(s)"],
        ["locust", "users"],
    ]


def _result_of(verdict: loadtest.Judgement, tmp_path: Path) -> loadtest.LoadTestResult:
    return loadtest.LoadTestResult(
        env="dev",
        url="http://127.0.0.1:1",
        users=4,
        seconds=10,
        requests=0,
        failures=0,
        rps=verdict.rps,
        p50_ms=math.inf,
        p95_ms=math.inf,
        p99_ms=math.inf,
        checks=verdict.checks,
        reports_dir=str(tmp_path),
        problems=verdict.problems,
        expected_requests=verdict.expected_requests,
    )


def test_a_problem_fails_the_gate_even_when_every_slo_holds(tmp_path: Path) -> None:
    verdict = _judge(failures=[(REFUSED, 5)], figures=_figures(failures=5))
    result = _result_of(verdict, tmp_path)
    assert all(c.ok for c in result.checks) and not result.passed
    assert "Load test: FAIL" in result.table()
    assert f"  FAIL: 5 request(s) could not reach the server (e.g. {REFUSED})" in result.table()
    assert "### Load test (dev): FAIL" in result.markdown()
    assert "**FAIL:** 5 request(s) could not reach the server" in result.markdown()
    with pytest.raises(loadtest.LoadTestFailed) as caught:
        loadtest.gate(result)
    assert str(caught.value) == (
        "load test failed for dev; the figures cannot be trusted:\n"
        f"  5 request(s) could not reach the server (e.g. {REFUSED}): it stopped or refused "
        "connections during the test; check that it stays up for the whole run\n"
        f"Reports: {tmp_path}"
    )


def test_the_gate_names_problems_first_then_breaches(tmp_path: Path) -> None:
    nothing = dict.fromkeys(("avg_ms", "p50_ms", "p95_ms", "p99_ms"), math.inf)
    verdict = _judge(SLO, figures=_figures(requests=0, rps=0.0, **nothing))
    with pytest.raises(loadtest.LoadTestFailed) as caught:
        loadtest.gate(_result_of(verdict, tmp_path))
    lines = str(caught.value).splitlines()
    assert lines[:3] == [
        "load test failed for dev; the figures cannot be trusted:",
        "  no request completed in the 10 s measured window: nothing was measured, so nothing "
        "can pass",
        "SLOs breached:",
    ]
    assert [x.split(":")[0].strip() for x in lines[3:-1]] == [
        "p95 latency",
        "p99 latency",
        "failure ratio",
        "throughput",
    ]


def _counts_csv(path: Path, header: str, *rows: str) -> None:
    path.write_text("\n".join([header, *rows]) + "\n")


def test_failures_and_exceptions_are_read_from_locusts_csv_files(tmp_path: Path) -> None:
    prefix = tmp_path / "locust"
    _counts_csv(
        tmp_path / "locust_failures.csv",
        "Method,Name,Error,Occurrences",
        f'POST,/v1/models/m:predict,"{REFUSED.replace(chr(34), chr(34) * 2)}",7',
        "POST,/v1/models/m:predict,HTTP 503,2",
    )
    _counts_csv(
        tmp_path / "locust_exceptions.csv",
        "Count,Message,Traceback,Nodes",
        '3,boom,"  File ""x.py"", line 1",local',
    )
    assert loadtest.read_failures(prefix) == [(REFUSED, 7), ("HTTP 503", 2)]
    assert loadtest.read_exceptions(prefix) == [("boom", 3)]


@pytest.mark.parametrize(("name", "what"), [("failures", "failure"), ("exceptions", "exception")])
def test_a_missing_failure_or_exception_list_is_an_error_not_a_clean_run(
    tmp_path: Path, name: str, what: str
) -> None:
    reader = loadtest.read_failures if name == "failures" else loadtest.read_exceptions
    with pytest.raises(MlopsError) as caught:
        reader(tmp_path / "locust")
    assert str(caught.value) == (
        f"locust wrote no {what} list ({tmp_path / f'locust_{name}.csv'} is missing)"
    )


def _shown(tmp_path: Path, verdict: loadtest.Judgement) -> loadtest.LoadTestResult:
    figures = _figures()
    return loadtest.LoadTestResult(
        env="dev",
        url="http://127.0.0.1:8501",
        users=4,
        seconds=10,
        requests=int(figures["requests"]),
        failures=0,
        rps=verdict.rps,
        p50_ms=figures["p50_ms"],
        p95_ms=figures["p95_ms"],
        p99_ms=figures["p99_ms"],
        checks=verdict.checks,
        reports_dir=str(tmp_path),
        problems=verdict.problems,
    )


def test_the_table_and_job_summary_of_a_pass(tmp_path: Path) -> None:
    result = _shown(tmp_path, _judge(SLO))
    assert result.table() == (
        "Load test of http://127.0.0.1:8501 (4 users, 10 s measured): 4000 requests, 0 failed, "
        "400.0 req/s, p50 9 ms\n"
        "  p95 latency: 20 ms (limit <= 100 ms, loadtest.slo.p95_ms) ok\n"
        "  p99 latency: 30 ms (limit <= 200 ms, loadtest.slo.p99_ms) ok\n"
        "  failure ratio: 0 (limit <= 0.01, loadtest.slo.max_failure_ratio) ok\n"
        "  throughput: 400 req/s (limit >= 50 req/s, loadtest.slo.min_rps) ok\n"
        f"Load test: PASS (reports: {tmp_path})"
    )
    assert result.markdown() == (
        "### Load test (dev): PASS\n\n"
        "4 users, 10 s after warm-up, 4000 requests, 0 failed.\n\n"
        "| SLO | measured | limit | |\n|---|---|---|---|\n"
        "| p95 latency | 20 ms | ≤ 100 ms | ✅ |\n"
        "| p99 latency | 30 ms | ≤ 200 ms | ✅ |\n"
        "| failure ratio | 0 | ≤ 0.01 | ✅ |\n"
        "| throughput | 400 req/s | ≥ 50 req/s | ✅ |\n"
    )


def test_the_table_job_summary_and_gate_message_of_a_run_with_two_problems(
    tmp_path: Path,
) -> None:
    slo = config.SloConfig(p95_ms=100, p99_ms=200, max_failure_ratio=0.01, min_rps=500)
    result = _shown(tmp_path, _judge(slo, failures=[(REFUSED, 2)], exceptions=[("boom", 1)]))
    unanswered = (
        f"2 request(s) could not reach the server (e.g. {REFUSED}): it stopped or refused "
        "connections during the test; check that it stays up for the whole run"
    )
    crashed = (
        "locust users crashed with 1 exception(s) (e.g. boom): the requests they were making "
        "were never counted; see locust_exceptions.csv and locust.log"
    )
    assert result.table().splitlines()[4:] == [
        "  throughput: 400 req/s (limit >= 500 req/s, loadtest.slo.min_rps) BREACHED",
        f"  FAIL: {unanswered}",
        f"  FAIL: {crashed}",
        f"Load test: FAIL (reports: {tmp_path})",
    ]
    assert result.markdown() == (
        "### Load test (dev): FAIL\n\n"
        "4 users, 10 s after warm-up, 4000 requests, 0 failed.\n"
        f"\n**FAIL:** {unanswered}\n\n**FAIL:** {crashed}\n\n"
        "| SLO | measured | limit | |\n|---|---|---|---|\n"
        "| p95 latency | 20 ms | ≤ 100 ms | ✅ |\n"
        "| p99 latency | 30 ms | ≤ 200 ms | ✅ |\n"
        "| failure ratio | 0 | ≤ 0.01 | ✅ |\n"
        "| throughput | 400 req/s | ≥ 500 req/s | ❌ |\n"
    )
    with pytest.raises(loadtest.LoadTestFailed) as caught:
        loadtest.gate(result)
    assert str(caught.value) == (
        "load test failed for dev; the figures cannot be trusted:\n"
        f"  {unanswered}\n  {crashed}\n"
        "SLOs breached:\n"
        "  throughput: 400 req/s (limit >= 500 req/s, loadtest.slo.min_rps) BREACHED\n"
        f"Reports: {tmp_path}"
    )


def test_the_measured_window_is_read_from_what_locust_window_wrote(tmp_path: Path) -> None:
    path, log = tmp_path / loadtest.WINDOW_FILE, tmp_path / "locust.log"
    path.write_text('{"measured_seconds": 10.0004}')
    assert loadtest.read_window(path, log) == 10.0004
    for text in (None, "", "{}", '{"measured_seconds": "soon"}', "[1]"):
        if text is None:
            path.unlink()
        else:
            path.write_text(text)
        with pytest.raises(MlopsError) as caught:
            loadtest.read_window(path, log)
        assert str(caught.value) == (
            f"locust stopped before the measured window ended ({path} was not written), so its "
            f"figures cover an unknown part of the window; see {log}"
        )
