"""The load-test gate: SLO verdicts, locust's figures, response checks, and the real command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from core import config
from models import features as F
from serving import loadtest
from serving.responses import check_predictions
from store import rows as R
from tests.support.repo import FULL_DATA, REPO, update_overlay
from tests.support.servers import (
    free_port,
    loadtest_args,
    make_environment,
    mlops,
    start_server,
    stop_server,
)

# staging's rows file (environments/cloud.yaml), as the repository names it.
ROWS_FILE = Path(config.load("staging").loadtest.rows_file).relative_to(REPO)
# A whole-number column a row must type: the taxi sample's trip_start_hour.
INT_COLUMN = F.HOUR_KEY or next(
    f.name
    for f in R.serving_features(R.load_schema())
    if f.type == schema_pb2.INT and f.name in F.model_feature_keys()
)
SLO = config.SloConfig(p95_ms=100, p99_ms=200, max_failure_ratio=0.01, min_rps=50)


def _stats(**overrides) -> dict:
    return {
        "requests": 1000,
        "failures": 0,
        "rps": 120.0,
        "p50_ms": 10.0,
        "p95_ms": 40.0,
        "p99_ms": 90.0,
        **overrides,
    }


def test_figures_within_every_slo_pass() -> None:
    checks = loadtest.evaluate(_stats(), SLO)
    assert [c.ok for c in checks] == [True] * 4
    assert [c.key for c in checks] == ["p95_ms", "p99_ms", "max_failure_ratio", "min_rps"]


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        ({"p95_ms": 150.0}, "p95 latency: 150 ms (limit <= 100 ms, loadtest.slo.p95_ms) BREACHED"),
        ({"p99_ms": 900.0}, "p99 latency: 900 ms (limit <= 200 ms, loadtest.slo.p99_ms) BREACHED"),
        (
            {"failures": 20},
            "failure ratio: 0.02 (limit <= 0.01, loadtest.slo.max_failure_ratio) BREACHED",
        ),
        (
            {"rps": 12.5},
            "throughput: 12.5 req/s (limit >= 50 req/s, loadtest.slo.min_rps) BREACHED",
        ),
    ],
)
def test_each_breach_is_one_line_with_measured_and_limit(overrides, line, tmp_path) -> None:
    stats = _stats(**overrides)
    result = loadtest.LoadTestResult(
        env="dev",
        url="http://x",
        users=4,
        seconds=10,
        requests=stats["requests"],
        failures=stats["failures"],
        rps=stats["rps"],
        p50_ms=stats["p50_ms"],
        p95_ms=stats["p95_ms"],
        p99_ms=stats["p99_ms"],
        checks=loadtest.evaluate(stats, SLO),
        reports_dir=str(tmp_path),
    )
    assert not result.passed
    with pytest.raises(loadtest.LoadTestFailed) as caught:
        loadtest.gate(result)
    breached = [x.strip() for x in str(caught.value).splitlines() if "BREACHED" in x]
    assert breached == [line]
    assert "❌" in result.markdown() and "FAIL" in result.table()


def test_no_completed_request_fails_every_latency_slo() -> None:
    checks = loadtest.evaluate(
        _stats(requests=0, failures=0, rps=0.0, p95_ms=float("inf"), p99_ms=float("inf")), SLO
    )
    assert not any(c.ok for c in checks)


def test_locust_csv_aggregated_row_is_read(tmp_path: Path) -> None:
    header = (
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
        "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
        "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
    )
    (tmp_path / "locust_stats.csv").write_text(
        f"{header}\nPOST,/v1/models/m:predict,10,1,5,6,1,9,30,2.5,0.25,5,6,6,7,8,9,9,9,9,9,9\n"
        f",Aggregated,10,1,5,6,1,9,30,2.5,0.25,5,6,6,7,8,9,9,9.5,9,9,9\n"
    )
    stats = loadtest.read_locust_stats(tmp_path / "locust")
    assert stats == {
        "requests": 10,
        "failures": 1,
        "rps": 2.5,
        "avg_ms": 6.0,
        "p50_ms": 5.0,
        "p95_ms": 9.0,
        "p99_ms": 9.5,
    }


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"predictions": [[0.25]]}', None),
        (b'{"predictions": [0.25]}', None),
        (b'{"predictions": [[1.5]]}', "not a probability"),
        (b'{"predictions": [["NaN"]]}', "not a probability"),
        (b'{"predictions": [[0.1], [0.2]]}', "2 predictions for 1 instances"),
        (b'{"error": "boom"}', "not a predictions body"),
        (b"<html>", "not a predictions body"),
    ],
)
def test_response_check_marks_bad_bodies(
    body: bytes, problem: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A binary model's bodies (one probability per instance), whatever task init configured."""
    monkeypatch.setattr(F, "TASK", "binary")
    got = check_predictions(body, instances=1)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


@pytest.mark.slow
def test_loadtest_command_passes_then_fails_on_a_breached_slo(tmp_path, trained) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:201]) + "\n")
    server = start_server(
        tmp_path / "a",
        "local",
        {1: trained.export_dir},
        loadtest={"warmup_seconds": 1, "users": 4, "spawn_rate": 4},
    )
    summary_file = tmp_path / "summary.md"
    try:
        env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary_file)}
        ok = mlops(
            *loadtest_args(server, rows, "4"),
            env=env,
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "Load test: PASS" in ok.stdout
        report = server.output / "loadtest"
        summary = json.loads((report / "summary.json").read_text())
        assert summary["passed"] is True and summary["failures"] == 0
        assert summary["requests"] > 0
        for name in ("report.html", "summary.md", "locust_stats.csv"):
            assert (report / name).exists(), name

        update_overlay(server.environments, "dev", {"loadtest": {"slo": {"p95_ms": 0.001}}})
        bad = mlops(
            *loadtest_args(server, rows, "3"),
            env=env,
        )
        assert bad.returncode == 1, bad.stdout + bad.stderr
        assert "Traceback" not in bad.stderr
        assert (
            "p95 latency:" in bad.stderr
            and "(limit <= 0.001 ms, loadtest.slo.p95_ms) BREACHED" in bad.stderr
        )
        # Both runs appended their table to the GitHub job summary.
        step_summary = summary_file.read_text()
        assert "Load test (dev): PASS" in step_summary
        assert "Load test (dev): FAIL" in step_summary
    finally:
        stop_server(server)


def test_loadtest_without_a_server_says_so(tmp_path) -> None:
    environments = make_environment(tmp_path, serving={"rest_port": free_port()})
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:3]) + "\n")
    result = mlops(
        "--environments",
        str(environments),
        "loadtest",
        "--env",
        "dev",
        "--output",
        str(tmp_path / "out"),
        "--rows",
        str(rows),
    )
    assert result.returncode == 3  # infrastructure: nothing was judged
    assert "no model server answers" in result.stderr and "cannot reach the server" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_rows_file_names_file_and_line(tmp_path) -> None:
    import csv

    with FULL_DATA.open() as f:
        table = list(csv.reader(f))[:3]
    table[2][table[0].index(INT_COLUMN)] = "noon"
    rows = tmp_path / "rows.csv"
    with rows.open("w", newline="") as f:
        csv.writer(f).writerows(table)
    result = mlops("predict", "--env", "dev", "--rows", str(rows))
    assert result.returncode == 2
    assert (
        f"--rows: {rows}:3: field '{INT_COLUMN}': value 'noon' is not a valid int" in result.stderr
    )


def test_an_environment_without_a_local_eval_split_sends_its_rows_file(tmp_path) -> None:
    environments = make_environment(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    missing = mlops(
        "--environments", str(environments), "loadtest", "--env", "staging", "--url", url
    )
    assert missing.returncode == 2
    assert "loadtest.rows_file: cannot read" in missing.stderr  # relative to the repository
    (tmp_path / "data").symlink_to(REPO / "data", target_is_directory=True)
    result = mlops(
        "--environments", str(environments), "loadtest", "--env", "staging", "--url", url
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert (
        "No evaluation split of staging's pipeline on this machine; sending rows from"
        in result.stdout
        and f"{ROWS_FILE} (loadtest.rows_file)" in result.stdout
    )
    assert "no model server answers" in result.stderr


@pytest.mark.slow
def test_a_verdict_is_recorded_only_for_the_release_being_served(tmp_path, trained) -> None:
    """--record against a server that does not serve the environment's release is refused."""
    import yaml

    server = start_server(
        tmp_path / "a", "local", {1: trained.export_dir}, loadtest={"warmup_seconds": 1}
    )
    try:
        record = {
            "environment": "dev",
            "current": {
                "model_name": "taxi_tips",
                "version": 7,
                "digest": "sha256:" + "0" * 64,
                "uri": "elsewhere/7",
            },
            "history": [],
        }
        path = server.environments / "dev" / "release.yaml"
        path.write_text(yaml.safe_dump(record))
        before = path.read_text()
        result = mlops(
            "--environments",
            str(server.environments),
            "loadtest",
            "--env",
            "dev",
            "--output",
            str(server.output),
            "--seconds",
            "2",
            "--record",
            "--rows",
            str(FULL_DATA),
        )
        assert result.returncode == 1
        assert "refused (serves-the-release): the server at" in result.stderr
        assert "does not serve dev's release version 7" in result.stderr
        assert path.read_text() == before  # nothing recorded
    finally:
        stop_server(server)
