"""Choosing, starting and waiting for a server: the errors a user meets before any request."""

from __future__ import annotations

import subprocess

import pytest

from core import config
from core.errors import ConfigError, MlopsError
from serving import backends
from serving import config_files as C
from tests.support.project import MODEL
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
    files = C.render(prod, f"/models/{MODEL}", versions=[1])
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
        MODEL,
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
    fake_model(out / "model_store" / MODEL / "1001", 1001)
    started = time.monotonic()
    assert (
        cli.main(["serve", "--env", "dev", "--output", str(out), "--version", "123", "--detach"])
        == 2
    )
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert (
        f"--version: version 123 is not in the model store "
        f"{out / 'model_store' / MODEL} (versions there: 1001)"
    ) in err
    assert sorted(p.name for p in out.iterdir()) == ["model_store"]  # nothing rendered, no server


# --- a version the server cannot load ------------------------------------------------------------


class _StatusRoute:
    """A REST status route answering `body` for every request, on a free port."""

    def __init__(self, body: dict) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        payload = json.dumps(body).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _status(*entries: tuple[str, str, str, str]) -> dict:
    return {
        "model_version_status": [
            {"version": v, "state": s, "status": {"error_code": c, "error_message": m}}
            for v, s, c, m in entries
        ]
    }


@pytest.mark.parametrize(
    ("entries", "versions", "fails"),
    [
        ([("7", "END", "NOT_FOUND", "Could not find SavedModel .pb")], None, True),
        ([("7", "END", "NOT_FOUND", "Could not find SavedModel .pb")], [7], True),
        # a failed version nobody asked for, and a version unloaded cleanly (END, OK)
        ([("7", "END", "UNKNOWN", "bad"), ("8", "LOADING", "OK", "")], [8], False),
        ([("6", "END", "OK", ""), ("8", "LOADING", "OK", "")], None, False),
    ],
)
def test_a_version_reported_end_with_an_error_stops_the_wait(
    tmp_path, entries, versions, fails
) -> None:
    """As upstream reports a failed load: END with a non-OK status, which it does not retry."""
    import time

    route = _StatusRoute(_status(*entries))
    proc = subprocess.Popen(["sleep", "60"])
    handle = _handle(tmp_path, proc.pid, route.port)
    (tmp_path / "server.log").write_text(f"E could not load {MODEL} version 7\n")
    started = time.monotonic()
    try:
        if fails:
            with pytest.raises(
                backends.ServerNotReady,
                match=rf"(?s)could not load model {MODEL} \(version 7: NOT_FOUND: Could not "
                rf"find SavedModel \.pb\).*will not retry.*E could not load {MODEL} version 7",
            ):
                backends.wait_ready(handle, timeout=60, versions=versions)
            assert time.monotonic() - started < 10
        else:
            with pytest.raises(backends.ServerNotReady, match="not AVAILABLE after 2 s"):
                backends.wait_ready(handle, timeout=2, versions=versions)
    finally:
        route.close()
        proc.kill()
        proc.wait()


def test_serving_a_corrupted_version_fails_within_seconds_with_the_load_error(tmp_path) -> None:
    """A folder store whose saved_model.pb is cut in half: the server reports the version END
    within a second, and `serve` says so, instead of waiting out readiness_timeout_seconds."""
    import time

    from tests.support.stores import constant_saved_model

    environments = make_environment(
        tmp_path, serving={"rest_port": free_port(), "grpc_port": free_port()}
    )
    timeout = config.load("dev", environments).serving.readiness_timeout_seconds
    assert timeout >= 120
    out = tmp_path / "out"
    model = constant_saved_model(out / "model_store" / MODEL / "1001")
    pb = model / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 2])
    args = ("--environments", str(environments), "serve", "--env", "dev", "--output", str(out))
    started = time.monotonic()
    result = mlops(*args, "--backend", "local", "--version", "1001", "--detach", timeout=300)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout + result.stderr
    assert elapsed < 30, f"took {elapsed:.1f} s (readiness timeout {timeout} s)"
    assert f"mlops serve: error: the server could not load model {MODEL} (version 1001: " in (
        result.stderr
    )
    assert "DecodeError" in result.stderr and "Traceback" not in result.stderr
    assert "version 1001: no release record or run summary names its digest" in result.stdout
    stop = mlops(*args, "--stop")
    assert "No server is running for dev" in stop.stdout  # it was stopped on the way out
