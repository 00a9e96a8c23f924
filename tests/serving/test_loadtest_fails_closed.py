"""The load-test gate fails closed: a real server stopped in the measured window is a FAIL.

The SLOs here are as lenient as the config allows (every request may fail, no throughput floor,
latencies of an hour), so a FAIL can only come from the checks that make the figures
trustworthy: connection errors, crashed users, too few requests, no requests.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core import config
from core.errors import ConfigError
from serving import loadtest
from tests.support.project import MODEL
from tests.support.repo import FULL_DATA
from tests.support.servers import (
    free_port,
    loadtest_args,
    make_environment,
    start_server,
    stop_server,
)

LENIENT = {"p95_ms": 3.6e6, "p99_ms": 3.6e6, "max_failure_ratio": 1.0, "min_rps": 0}
WARMUP = 2
MEASURED = 10


@pytest.mark.slow
def test_a_server_stopped_in_the_measured_window_fails_and_records_fail(tmp_path, trained) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:201]) + "\n")
    server = start_server(
        tmp_path / "a",
        "local",
        {1: trained.export_dir},
        loadtest={"warmup_seconds": WARMUP, "users": 4, "spawn_rate": 4, "slo": LENIENT},
    )
    record = server.environments / "dev" / "release.yaml"
    record.write_text(
        yaml.safe_dump(
            {
                "environment": "dev",
                "current": {
                    "model_name": MODEL,
                    "version": 1,
                    "digest": "sha256:" + "0" * 64,
                    "uri": str(server.store / "1"),
                },
                "history": [],
            }
        )
    )
    command = [
        sys.executable,
        "-m",
        "mlops.cli",
        *loadtest_args(server, rows, str(MEASURED)),
        "--record",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        started = proc.stdout.readline()  # "Load test of ...": locust starts right after it
        assert started.startswith("Load test of"), started + proc.communicate()[1]
        # Locust needs a few seconds to start; then the warm-up, then about 3 s of measured
        # traffic before the server goes away, well inside the 10 s window.
        time.sleep(3 + WARMUP + 3)
    finally:
        stop_server(server)
    out, err = proc.communicate(timeout=300)
    out = started + out
    assert proc.returncode == 1, out + err
    assert "Traceback" not in err
    assert "Load test: FAIL" in out
    assert "request(s) could not reach the server (e.g. " in err and "connection error: " in err
    assert "crashed" not in err
    verdict = yaml.safe_load(record.read_text())["current"]["loadtest"]
    assert verdict["verdict"] == "FAIL", verdict


def _config(tmp_path: Path) -> config.EnvironmentConfig:
    environments = make_environment(
        tmp_path, loadtest={"warmup_seconds": 1, "users": 4, "spawn_rate": 4, "slo": LENIENT}
    )
    return config.load("dev", environments)


# A user that crashes now and then, as the stock users did on every connection error. Its
# requests take a measured 10 ms, so the request count matches what the window implies.
CRASHING_USER = """
import time

import gevent
from locust import User, constant, task


class CrashingUser(User):
    wait_time = constant(0)
    calls = 0

    @task
    def predict(self):
        CrashingUser.calls += 1
        started = time.perf_counter()
        gevent.sleep(0.01)
        self.environment.events.request.fire(
            request_type="POST",
            name="/v1/models/taxi_tips:predict",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=10,
            exception=None,
            context={},
        )
        if CrashingUser.calls % 50 == 0:
            raise TypeError("'NoneType' object is not subscriptable")
"""


@pytest.mark.slow
def test_a_crashing_user_fails_the_run_with_its_exception(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    locustfile = tmp_path / "crashing.py"
    locustfile.write_text(CRASHING_USER)
    url = f"http://127.0.0.1:{free_port()}"
    result = loadtest.run(cfg, url, [b"x"], tmp_path / "report", seconds=3, locustfile=locustfile)
    assert result.requests > 0 and result.failures == 0
    assert all(c.ok for c in result.checks)
    assert not result.passed
    assert len(result.problems) == 1, result.problems
    assert result.problems[0].startswith("locust users crashed ")
    assert "(e.g. 'NoneType' object is not subscriptable)" in result.problems[0]
    assert "Load test: FAIL" in result.table()


@pytest.mark.slow
def test_a_server_that_is_not_there_is_a_connection_error_not_a_crash(tmp_path: Path) -> None:
    """The stock users against a closed port: every request counted as failed, none crashed."""
    cfg = _config(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    result = loadtest.run(cfg, url, [b"x"], tmp_path / "report", seconds=2)
    assert result.requests > 0 and result.failures == result.requests
    assert not result.passed
    assert not any("crashed" in p for p in result.problems), result.problems
    (unanswered,) = [p for p in result.problems if "could not reach the server" in p]
    assert unanswered.startswith(f"{result.requests} request(s) could not reach the server (e.g. ")
    assert "connection error: " in unanswered


def test_no_rows_is_a_config_error_before_locust_starts(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    with pytest.raises(ConfigError) as caught:
        loadtest.run(cfg, "http://127.0.0.1:1", [], tmp_path / "report")
    assert str(caught.value).startswith("no rows to send: the load test needs at least one")
    assert not (tmp_path / "report").exists()
