"""A new version pushed while the load test runs: no failed request, and traffic moves over."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from serving.client import RestClient
from store import rows as R
from store.model_store import publish_atomically
from tests.support.repo import FULL_DATA
from tests.support.servers import MODEL, loadtest_args, start_server, stop_server

pytestmark = pytest.mark.slow


def _served_requests(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/monitoring/prometheus/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return 0
    return sum(
        int(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(":tensorflow:serving:request_count{")
    )


def test_pushing_a_version_under_load_drops_nothing(
    tmp_path, trained, second_version, predict_in_process, transform_run
) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:201]) + "\n")
    # Latency limits far above anything a busy 2-core machine produces, no throughput floor:
    # the exit code then reflects failed requests only (max_failure_ratio 0).
    server = start_server(
        tmp_path / "srv",
        "local",
        {1: trained.export_dir},
        loadtest={
            "warmup_seconds": 1,
            "users": 8,
            "spawn_rate": 8,
            "slo": {"p95_ms": 60000, "p99_ms": 60000, "min_rps": 0, "max_failure_ratio": 0},
        },
    )
    examples = R.examples(transform_run.probe_rows[:10])
    client = RestClient(server.rest_url, MODEL)
    try:
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlops.cli",
                *loadtest_args(server, rows, "14"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 120
        while _served_requests(server.rest_url) < 200:  # locust is up and past its warm-up
            assert load.poll() is None, load.communicate()
            assert time.monotonic() < deadline, "the load test never started sending"
            time.sleep(0.5)
        time.sleep(2)
        publish_atomically(second_version, server.store, 2)
        # The new version must answer while the load still runs, or this proves nothing.
        switched_under_load = False
        while load.poll() is None:
            if np.allclose(client.predict(examples), predict_in_process(2, examples), atol=1e-5):
                switched_under_load = load.poll() is None
                break
            time.sleep(0.2)
        out, err = load.communicate(timeout=300)
        assert load.returncode == 0, out + err
        assert switched_under_load, "version 2 did not answer before the load test ended"

        summary = json.loads((server.output / "loadtest" / "summary.json").read_text())
        assert summary["failures"] == 0 and summary["requests"] > 500, summary

        states = {s["version"]: s["state"] for s in client.status()["model_version_status"]}
        assert states["2"] == "AVAILABLE" and states.get("1", "END") == "END", states
        np.testing.assert_allclose(
            client.predict(examples), predict_in_process(2, examples), atol=1e-5
        )
    finally:
        stop_server(server)


def test_a_changed_model_config_is_picked_up_without_a_restart(
    tmp_path, trained, second_version
) -> None:
    """Pin version 1 by rewriting models.config, as a promotion or rollback would."""
    from core import config
    from serving import config_files as C

    server = start_server(
        tmp_path / "srv",
        "local",
        {1: trained.export_dir, 2: second_version},
        serving={"config_poll_seconds": 1},
    )
    try:
        client = RestClient(server.rest_url, MODEL)
        assert {s["version"]: s["state"] for s in client.status()["model_version_status"]}.get(
            "2"
        ) == "AVAILABLE"
        cfg = config.load("dev", server.environments, output_root=str(server.output))
        C.write(
            C.render(cfg, str(server.store), versions=[1], labels={"stable": 1}),
            server.output / "serving",
        )
        deadline = time.monotonic() + 60
        states: dict = {}
        while time.monotonic() < deadline:
            states = {s["version"]: s["state"] for s in client.status()["model_version_status"]}
            if states.get("1") == "AVAILABLE" and states.get("2") == "END":
                break
            time.sleep(0.5)
        assert states.get("1") == "AVAILABLE" and states.get("2") == "END", states
        # The status route ignores labels (as upstream); metadata resolves them.
        meta = json.loads(
            urllib.request.urlopen(
                f"{server.rest_url}/v1/models/{MODEL}/labels/stable/metadata", timeout=10
            ).read()
        )
        assert meta["model_spec"]["version"] == "1"
    finally:
        stop_server(server)
