"""`mlops loadtest --record`: the verdict lands in the environment's release record, PASS or FAIL.

A real server (the stand-in) serves dev's release, promoted from a model store the way `make demo`
does, in a temporary copy of environments/. A short load test under SLOs any working server meets
records PASS (exit 0); the same test under an impossible p95 records FAIL (exit 1), and that FAIL
then blocks the promotion to staging.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core import config
from core.paths import REPO_ROOT
from store.model_store import publish_atomically
from tests.support.project import MODEL
from tests.support.repo import FULL_DATA, update_overlay
from tests.support.servers import free_port, make_environment, mlops, start_server, stop_server

pytestmark = pytest.mark.slow


def test_record_writes_pass_then_fail_into_the_release(tmp_path, trained) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:201]) + "\n")
    # SLOs a busy shared CPU still meets: the PASS must not depend on the machine's load.
    server = start_server(
        tmp_path / "a",
        "local",
        {1: trained.export_dir},
        loadtest={
            "warmup_seconds": 2,
            "users": 4,
            "spawn_rate": 4,
            "slo": {"p95_ms": 10000, "p99_ms": 10000, "min_rps": 0.1},
        },
    )
    envs = str(server.environments)
    record_file = server.environments / "dev" / "release.yaml"
    shown = config.show_path(record_file)  # how the command names the file it wrote

    def loadtest() -> tuple[int, str, str]:
        done = mlops(
            "--environments",
            envs,
            "loadtest",
            "--env",
            "dev",
            "--output",
            str(server.output),
            "--rows",
            str(rows),
            "--seconds",
            "6",
            "--record",
        )
        return done.returncode, done.stdout, done.stderr

    try:
        promoted = mlops(
            "--environments", envs, "promote", "--to", "dev", "--output", str(server.output)
        )
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        released = yaml.safe_load(record_file.read_text())
        assert released["current"]["version"] == 1
        assert released["current"]["loadtest"]["verdict"] == "NONE"

        code, out, err = loadtest()
        assert code == 0, out + err
        short = f"version 1 ({released['current']['digest'][7:19]})"
        assert f"Recorded PASS for dev's {short} in {shown}" in out
        record = yaml.safe_load(record_file.read_text())
        summary = json.loads((server.output / "loadtest" / "summary.json").read_text())
        passed = record["current"]["loadtest"]
        assert passed["verdict"] == "PASS" and passed["at"]
        assert passed["report"] == str(server.output / "loadtest")
        assert passed["p95_ms"] == pytest.approx(summary["p95_ms"], abs=1e-3)
        assert passed["p99_ms"] == pytest.approx(summary["p99_ms"], abs=1e-3)
        assert passed["rps"] == pytest.approx(summary["rps"], abs=1e-3) and passed["rps"] > 0
        assert passed["failure_ratio"] == 0.0
        # Only the verdict changed: same artifact, no new history entry.
        assert {k: v for k, v in record["current"].items() if k != "loadtest"} == {
            k: v for k, v in released["current"].items() if k != "loadtest"
        }
        assert record["history"] == released["history"] == []
        status = mlops("--environments", envs, "status")
        assert "can be promoted dev -> staging" in status.stdout, status.stdout

        update_overlay(server.environments, "dev", {"loadtest": {"slo": {"p95_ms": 0.001}}})
        code, out, err = loadtest()
        assert code == 1, out + err
        assert "Traceback" not in err
        assert f"Recorded FAIL for dev's {short} in {shown}" in out
        assert "(limit <= 0.001 ms, loadtest.slo.p95_ms) BREACHED" in err
        failed = yaml.safe_load(record_file.read_text())["current"]["loadtest"]
        assert failed["verdict"] == "FAIL" and failed["at"] >= passed["at"]
        assert failed["p95_ms"] > 0.001

        # The recorded FAIL is what the promotion rules read.
        blocked = mlops("--environments", envs, "promote", "--from", "dev", "--to", "staging")
        assert blocked.returncode == 1, blocked.stdout + blocked.stderr
        assert "load-test-passed" in blocked.stderr and "verdict FAIL" in blocked.stderr
        assert not (server.environments / "staging" / "release.yaml").exists()
    finally:
        stop_server(server)


def test_make_serve_loadtest_record_attaches_the_verdict_to_the_release(
    tmp_path, trained, second_version
) -> None:
    """`make demo`'s last step serves dev's release, not the newest pushed model, so the
    recorded load test is about the release (issue 17: it served the newest and then refused
    with serves-the-release)."""
    rows = tmp_path / "rows.csv"
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:201]) + "\n")
    environments = make_environment(
        tmp_path / "repo",
        serving={"rest_port": free_port(), "grpc_port": free_port(), "file_system_poll_seconds": 1},
        loadtest={
            "warmup_seconds": 1,
            "run_seconds": 4,
            "users": 2,
            "spawn_rate": 2,
            "rows_file": str(rows),
            "slo": {"p95_ms": 10000, "p99_ms": 10000, "min_rps": 0.1},
        },
    )
    envs = str(environments)
    store = Path(config.load("dev", environments).model_store_dir)
    store.mkdir(parents=True)
    publish_atomically(trained.export_dir, store, 1)
    promoted = mlops("--environments", envs, "promote", "--to", "dev")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    publish_atomically(second_version, store, 2)  # pushed after the release: newer, unreleased

    mlops_command = f"{Path(sys.executable).parent / 'mlops'} --environments {envs}"
    target = ["serve-loadtest-record", "ENV=dev", "BACKEND=local", f"MLOPS={mlops_command}"]
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), *target],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert f"Serving {MODEL} (version 1 AVAILABLE)" in out and "version 2" not in out
    record = yaml.safe_load((environments / "dev" / "release.yaml").read_text())["current"]
    assert record["version"] == 1 and record["loadtest"]["verdict"] == "PASS"
    assert f"Recorded PASS for dev's version 1 ({record['digest'][7:19]})" in out
    assert "Stopped" in out  # the server does not outlive the target
