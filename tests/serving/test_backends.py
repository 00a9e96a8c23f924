"""Choosing, starting and waiting for a server: the errors a user meets before any request."""

from __future__ import annotations

import subprocess

import pytest

from core import config
from core.errors import ConfigError, MlopsError
from serving import backends
from serving import config_files as C
from tests.support.servers import free_port, make_environment, mlops


def test_forcing_a_backend_this_machine_lacks_says_what_is_missing(monkeypatch) -> None:
    monkeypatch.setattr(backends.shutil, "which", lambda _name: None)  # a bare machine
    with pytest.raises(ConfigError, match="--backend binary: tensorflow_model_server is not on"):
        backends.choose_backend("binary")
    with pytest.raises(
        ConfigError,
        match=r"--backend docker: no Docker engine reachable \(no "
        r"`docker` command on PATH\)",
    ):
        backends.choose_backend("docker")
    assert backends.available_backends() == ["local"]
    assert backends.choose_backend("auto") == "local"


def test_auto_ends_with_the_local_stand_in() -> None:
    assert backends.available_backends()[-1] == "local"
    assert backends.choose_backend("auto") in backends.available_backends()


def test_flags_follow_the_environment() -> None:
    prod = config.load("prod")
    files = C.render(prod, "/models/taxi_tips", versions=[1])
    flags = C.server_flags(prod, "/config", files, 8500, 8501)
    assert "--enable_batching=true" in flags
    assert "--batching_parameters_file=/config/batching.config" in flags
    assert f"--model_config_file_poll_wait_seconds={prod.serving.config_poll_seconds}" in flags
    assert "--monitoring_config_file=/config/monitoring.config" in flags
    # The rendered models.config labels the release `stable` before it is loaded: upstream
    # refuses that at start unless this flag is set (tests/serving/test_labels.py).
    assert "--allow_version_labels_for_unavailable_models=true" in flags
    staging = config.load("staging")
    assert not staging.serving.batching.enabled
    flags = C.server_flags(staging, "/c", C.render(staging, "/m", versions=[3]), 1, 2)
    assert not any("batching" in f for f in flags)
    assert flags[:2] == ["--port=1", "--rest_api_port=2"]


def test_serving_an_empty_store_says_run_the_pipeline_first(tmp_path) -> None:
    cfg = config.load("dev", output_root=str(tmp_path))
    with pytest.raises(MlopsError, match=r"no model version in .*: run `mlops run --env dev`"):
        backends.start(cfg, "local")


def _handle(tmp_path, pid: int, port: int) -> backends.ServerHandle:
    return backends.ServerHandle(
        "dev",
        "local",
        f"http://127.0.0.1:{port}",
        "x",
        "taxi_tips",
        str(tmp_path / "server.log"),
        pid=pid,
    )


def test_a_server_that_exits_is_reported_with_its_log_tail(tmp_path) -> None:
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        ["sh", "-c", "echo 'Op type not registered: Foo'; exit 3"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    with pytest.raises(
        backends.ServerNotReady,
        match=r"(?s)exited before the model was "
        r"available.*Op type not registered",
    ):
        backends.wait_ready(_handle(tmp_path, proc.pid, free_port()), timeout=30)


def test_a_server_that_never_gets_ready_times_out_with_its_log_tail(tmp_path) -> None:
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        ["sh", "-c", "echo still loading; sleep 30"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        with pytest.raises(
            backends.ServerNotReady,
            match=r"(?s)not AVAILABLE after 1 s \(serving.readiness_timeout_"
            r"seconds; last status: no answer\).*still loading",
        ):
            backends.wait_ready(_handle(tmp_path, proc.pid, free_port()), timeout=1)
    finally:
        proc.kill()
        proc.wait()


def test_serve_command_errors_are_one_clear_line(tmp_path) -> None:
    environments = make_environment(tmp_path)
    result = mlops(
        "--environments",
        str(environments),
        "serve",
        "--env",
        "dev",
        "--output",
        str(tmp_path / "empty"),
        "--detach",
    )
    assert result.returncode == 1
    assert "no model version in" in result.stderr and "Traceback" not in result.stderr
    stop = mlops(
        "--environments",
        str(environments),
        "serve",
        "--env",
        "dev",
        "--output",
        str(tmp_path / "empty"),
        "--stop",
    )
    assert stop.returncode == 0 and "No server is running for dev" in stop.stdout


def test_check_versions_names_the_missing_version_and_what_the_store_holds() -> None:
    backends.check_versions([1002], [1001, 1002], "/store")  # held: nothing to say
    with pytest.raises(
        ConfigError,
        match=r"^--version: version 123 is not in the model store "
        r"/store \(versions there: 1001, 1002\)$",
    ):
        backends.check_versions([1001, 123], [1001, 1002], "/store")
    with pytest.raises(ConfigError, match=r"release.yaml: version 7 .*\(versions there: none\)"):
        backends.check_versions([7], [], "/store", source="environments/prod/release.yaml")


def test_serving_a_version_the_store_lacks_fails_at_once(tmp_path, capsys) -> None:
    """It used to wait out the readiness timeout (120 s) before failing."""
    import time

    from mlops import cli
    from tests.support.stores import fake_model

    out = tmp_path / "out"
    fake_model(out / "model_store" / "taxi_tips" / "1001", 1001)
    started = time.monotonic()
    assert (
        cli.main(["serve", "--env", "dev", "--output", str(out), "--version", "123", "--detach"])
        == 2
    )
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert (
        f"--version: version 123 is not in the model store "
        f"{out / 'model_store' / 'taxi_tips'} (versions there: 1001)"
    ) in err
    assert sorted(p.name for p in out.iterdir()) == ["model_store"]  # nothing rendered, no server
