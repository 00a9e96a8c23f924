"""The canary analysis against a real Prometheus: two stand-ins per case (the released model
and a candidate), Prometheus scraping both every second, locust splitting traffic 90/10, and
`mlops analyze` evaluating the AnalysisTemplate's own queries through the HTTP API.

One rig serves every case: a stable stand-in and three candidates (healthy, 5% failing, three
times slower). Each case is its own namespace label, so the same queries, exactly as rendered,
see one candidate each. Faults come from the stand-in's test-only flags (serving/standin/
faults.py). Slow: four stand-ins load TensorFlow, then ten seconds of traffic.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from delivery import analysis_queries
from tests.support import prometheus_server
from tests.support.repo import copy_environments, update_overlay
from tests.support.servers import MODEL, free_port, mlops
from tests.support.stores import constant_saved_model

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        prometheus_server.binary() is None, reason="needs prometheus: make monitoring-tools"
    ),
]

METRICS_PATH = "/monitoring/prometheus/metrics"
# Every stand-in waits this long per prediction, so its latency is the delay, not CPU noise on
# a shared machine.
DELAY_MS = 50.0
CANDIDATES = {  # case -> the candidate's test-only fault flags
    "healthy": [],
    "erroring": ["--test_failure_ratio", "0.05"],
    "slow": ["--test_delay_ms", str(3 * DELAY_MS)],
}
TRAFFIC_SECONDS = 10
# The thresholds every case is judged by. TensorFlow's latency buckets end at 37.5, 67.5, 121.5
# and 218.7 ms: a 50 ms stand-in's p99 sits in the bucket up to 67.5 ms, and only a tail of
# slow requests beyond 121.5 ms (71 ms of noise) could lift it past 120; a 150 ms one's p99 is
# near 218 ms.
ANALYSIS = {
    "max_error_ratio": 0.01,
    "p99_ms": 120.0,
    "min_requests": 100,
    "window_seconds": 60,
}


@dataclass
class Rig:
    prometheus: prometheus_server.Prometheus
    environments: Path
    stable: str
    candidates: dict[str, str]
    traffic_seconds: float


def _standin(workdir: Path, store: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str]:
    workdir.mkdir(parents=True)
    (workdir / "models.config").write_text(
        f'model_config_list {{\n  config {{\n    name: "{MODEL}"\n    base_path: "{store}"\n'
        f'    model_platform: "tensorflow"\n  }}\n}}\n'
    )
    (workdir / "monitoring.config").write_text(
        f'prometheus_config {{\n  enable: true\n  path: "{METRICS_PATH}"\n}}\n'
    )
    rest = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serving.standin.server",
            f"--port={free_port()}",
            f"--rest_api_port={rest}",
            f"--model_config_file={workdir / 'models.config'}",
            f"--monitoring_config_file={workdir / 'monitoring.config'}",
            f"--test_delay_ms={DELAY_MS}",
            *flags,
        ],
        stdout=(workdir / "log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"127.0.0.1:{rest}"


def _wait_available(address: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"stand-in at {address} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://{address}/v1/models/{MODEL}", timeout=2) as r:
                if b"AVAILABLE" in r.read():
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"stand-in at {address} not AVAILABLE after {timeout} s")


def _warm_up(address: str) -> None:
    """TensorFlow's first calls of a loaded model are slow (tracing, allocation): a few
    predictions, serial then concurrent, before Prometheus first scrapes, so the analysis
    judges the candidate and not its warm-up (TF Serving's own answer is a warm-up file)."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> None:
        request = urllib.request.Request(
            f"http://{address}/v1/models/{MODEL}:predict",
            data=b'{"instances": [{"b64": "AA=="}]}',
            headers={"Content-Type": "application/json"},
        )
        # The erroring candidate fails some of them: its fault, not the warm-up's.
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=30).read()

    for i in range(5):
        one(i)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(20)))


def _locust(workdir: Path, stable: str, candidates: list[str], seconds: int) -> None:
    env = {
        **os.environ,
        "CANARY_TRAFFIC_STABLE": f"http://{stable}",
        "CANARY_TRAFFIC_CANDIDATES": ",".join(f"http://{c}" for c in candidates),
    }
    users = 9 + 3 * len(candidates)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(Path(__file__).parents[1] / "support" / "canary_traffic.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--only-summary",
            "--csv",
            str(workdir / "traffic"),
        ],
        env=env,
        capture_output=True,
        timeout=seconds + 60,
        check=False,  # the erroring candidate's failures make locust exit 1
    )


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("canary")
    store = root / "store" / MODEL
    constant_saved_model(store / "1")
    processes: list[subprocess.Popen[bytes]] = []
    prometheus = None
    try:
        stable_process, stable = _standin(root / "stable", store)
        processes.append(stable_process)
        candidates = {}
        for case, flags in CANDIDATES.items():
            process, candidates[case] = _standin(root / case, store, *flags)
            processes.append(process)
        for process, address in zip(processes, [stable, *candidates.values()], strict=True):
            _wait_available(address, process)
            _warm_up(address)
        jobs = []
        for case, address in candidates.items():  # stable is scraped once per case's namespace
            jobs.append(
                prometheus_server.static_target(
                    f"{case}-stable", stable, METRICS_PATH, {"namespace": case, "role": "stable"}
                )
            )
            jobs.append(
                prometheus_server.static_target(
                    f"{case}-canary", address, METRICS_PATH, {"namespace": case, "role": "canary"}
                )
            )
        prometheus = prometheus_server.start(root / "prometheus", jobs)
        prometheus.wait_for('up{role="canary"} == 1')
        started = time.monotonic()
        _locust(root, stable, list(candidates.values()), TRAFFIC_SECONDS)
        time.sleep(3)  # the last scrapes after the traffic
        environments = copy_environments(root)
        update_overlay(environments, "prod", {"rollout": {"analysis": ANALYSIS}})
        yield Rig(prometheus, environments, stable, candidates, time.monotonic() - started)
    finally:
        if prometheus is not None:
            prometheus.stop()
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _analyze(rig: Rig, case: str, **analysis: object) -> subprocess.CompletedProcess[str]:
    update_overlay(
        rig.environments,
        "prod",
        {"deploy": {"namespace": case}, "rollout": {"analysis": {**ANALYSIS, **analysis}}},
    )
    return mlops(
        "--environments",
        str(rig.environments),
        "analyze",
        "--env",
        "prod",
        "--prometheus",
        rig.prometheus.url,
        timeout=120,
    )


def _figures(result: subprocess.CompletedProcess[str]) -> str:
    """The measured lines, for the test log (the figures per fault)."""
    return "\n".join(line for line in result.stdout.splitlines() if line.startswith("  "))


def test_a_healthy_candidate_passes(rig: Rig) -> None:
    result = _analyze(rig, "healthy")
    print(_figures(result), f"\n(traffic and scrapes: {rig.traffic_seconds:.1f} s)")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: pass" in result.stdout


def test_a_candidate_failing_5_percent_fails_naming_the_error_ratio(rig: Rig) -> None:
    result = _analyze(rig, "erroring")
    print(_figures(result))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict: fail" in result.stdout
    assert "error-ratio" in result.stderr and "is above 0.01" in result.stderr
    assert "latency-p99" not in result.stderr  # it fails for its errors, not its speed


def test_a_candidate_three_times_slower_fails_naming_the_latency(rig: Rig) -> None:
    result = _analyze(rig, "slow")
    print(_figures(result))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "latency-p99" in result.stderr and "ms is above 120 ms" in result.stderr
    assert "error-ratio" not in result.stderr


def test_too_little_traffic_is_inconclusive_never_a_pass(rig: Rig) -> None:
    """The healthy candidate's requests, against a minimum it did not reach."""
    result = _analyze(rig, "healthy", min_requests=1_000_000)
    print(_figures(result))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict: inconclusive" in result.stdout
    assert "request-count" in result.stderr and "never promotes" in result.stderr


def test_a_candidate_without_any_series_is_inconclusive(rig: Rig) -> None:
    result = _analyze(rig, "no-such-namespace")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "verdict: inconclusive" in result.stdout and "no data" in result.stdout


def test_the_queries_are_the_rendered_strings(rig: Rig) -> None:
    """What Prometheus was asked is analysis_queries' text: the AnalysisTemplate's."""
    from core import config

    update_overlay(rig.environments, "prod", {"deploy": {"namespace": "healthy"}})
    cfg = config.load("prod", rig.environments)
    for q in analysis_queries.queries(cfg):
        assert rig.prometheus.query(q.promql), q.promql


def test_the_standin_metrics_through_prometheus_keep_upstream_names_labels_and_buckets(
    rig: Rig,
) -> None:
    series = rig.prometheus.api(
        "series", **{"match[]": '{__name__=~":tensorflow:serving:.*",namespace="healthy"}'}
    )
    names = {s["__name__"] for s in series}
    assert {
        ":tensorflow:serving:request_count",
        ":tensorflow:serving:request_latency_bucket",
        ":tensorflow:serving:request_latency_sum",
        ":tensorflow:serving:request_latency_count",
    } <= names
    counts = [s for s in series if s["__name__"] == ":tensorflow:serving:request_count"]
    assert all(
        set(s) - {"__name__", "instance", "job", "namespace", "role"} == {"model_name", "status"}
        for s in counts
    )
    buckets = [
        s
        for s in series
        if s["__name__"] == ":tensorflow:serving:request_latency_bucket"
        and s.get("API") == "predict"
        and s["role"] == "canary"
    ]
    assert all(
        set(s) - {"__name__", "instance", "job", "namespace", "role"}
        == {"model_name", "API", "entrypoint", "le"}
        for s in buckets
    )
    # Buckets::Exponential(10, 1.8, 33) in microseconds, then DBL_MAX printed as +Inf.
    expected, bound = [], 10.0
    for _ in range(33):
        expected.append(f"{bound:.6g}")
        bound *= 1.8
    les = sorted((s["le"] for s in buckets), key=float)
    assert les == [*sorted(expected, key=float), "+Inf"]
    assert les[:4] == ["10", "18", "32.4", "58.32"] and les[-2] == "1.47476e+09"
