"""Start, find and stop a model server for an environment: TF Serving binary, Docker, or stand-in.

`mlops serve` picks the first that exists: `tensorflow_model_server` on PATH, then a reachable
Docker engine (the `tensorflow/serving` image), then the local stand-in. All three get the same
rendered config files and the same flags, and all three are ready only when a version of the
model reports AVAILABLE.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from core.config import EnvironmentConfig
from core.errors import ConfigError, MlopsError
from core.ports import GRPC_PORT, REST_PORT
from core.uris import is_remote
from serving import config_files as C
from store import model_store

BACKENDS = ("binary", "docker", "local")
BINARY = "tensorflow_model_server"
CONTAINER_MODEL_ROOT = "/models"
CONTAINER_CONFIG_DIR = "/config"
STATE_FILE = "server.json"


class ServerNotReady(MlopsError):
    """The server did not report the model AVAILABLE in time, or exited."""


@dataclass
class ServerHandle:
    env: str
    backend: str
    rest_url: str
    grpc_target: str
    model_name: str
    log_file: str
    pid: int | None = None
    container: str | None = None

    def describe(self) -> str:
        what = {
            "binary": "tensorflow_model_server",
            "docker": f"Docker container {self.container}",
            "local": "the local TF Serving stand-in",
        }[self.backend]
        return f"{what}: REST {self.rest_url}, gRPC {self.grpc_target}"


def serving_dir(cfg: EnvironmentConfig) -> Path:
    return Path(cfg.work_dir) / "serving"


def docker_available() -> tuple[bool, str]:
    if shutil.which("docker") is None:
        return False, "no `docker` command on PATH"
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"`docker info` failed: {exc}"
    if result.returncode != 0:
        return False, f"`docker info` failed: {result.stderr.strip()[:200]}"
    return True, f"Docker engine {result.stdout.strip()}"


def available_backends() -> list[str]:
    found = []
    if shutil.which(BINARY):
        found.append("binary")
    if docker_available()[0]:
        found.append("docker")
    return [*found, "local"]


def choose_backend(forced: str | None) -> str:
    if forced in (None, "auto"):
        return available_backends()[0]
    if forced not in BACKENDS:
        raise ConfigError(
            f"--backend: unknown backend {forced!r} (choose from auto, {', '.join(BACKENDS)})"
        )
    if forced == "binary" and shutil.which(BINARY) is None:
        raise ConfigError(f"--backend binary: {BINARY} is not on PATH")
    if forced == "docker":
        ok, why = docker_available()
        if not ok:
            raise ConfigError(f"--backend docker: no Docker engine reachable ({why})")
    return forced


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def check_versions(
    requested: list[int], available: list[int], store: str, source: str = "--version"
) -> None:
    """Refuse, before a server starts, versions the store does not hold.

    A server asked for a missing version waits out serving.readiness_timeout_seconds before it
    fails; the store's listing answers at once. `available` is what the store holds, however it
    was listed, so the check is the same for every kind of store.
    """
    missing = sorted(set(requested) - set(available))
    if missing:
        held = ", ".join(map(str, available[-10:])) or "none"
        raise ConfigError(
            f"{source}: version {', '.join(map(str, missing))} is not in the model "
            f"store {store} (versions there: {held})"
        )


def start(
    cfg: EnvironmentConfig,
    backend: str,
    versions: list[int] | None = None,
    labels: dict[str, int] | None = None,
    store_dir: str | None = None,
) -> ServerHandle:
    """Render the config files for `backend` and start it (not yet ready: see wait_ready).

    `store_dir` replaces the environment's model store with a local folder of pulled versions
    (registry stores: TF Serving cannot read an OCI registry itself).
    """
    s = cfg.serving
    store = store_dir or cfg.model_store_dir
    remote = is_remote(store)
    if remote and backend == "local":
        raise ConfigError(
            f"environments/{cfg.name}: paths.model_store is {cfg.paths.model_store}"
            f"; the local stand-in reads only local model stores. TF Serving "
            f"(--backend docker or binary) reads buckets itself, given credentials"
        )
    if not remote and not model_store.versions(Path(store)):
        raise MlopsError(
            f"no model version in {store}: run `mlops run --env {cfg.name}` "
            f"first (it pushes blessed models there)"
        )
    existing = read_state(cfg)
    if existing is not None and is_running(existing):
        raise MlopsError(
            f"a server for {cfg.name} is already running ({existing.describe()}); "
            f"stop it with `mlops serve --env {cfg.name} --stop`"
        )
    for port in (s.rest_port, s.grpc_port):
        if not _port_free(s.host, port):
            raise MlopsError(
                f"port {port} on {s.host} is in use; stop what holds it or change "
                f"serving.rest_port / serving.grpc_port in environments/{cfg.name}/"
            )
    out = serving_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    log_file = out / f"{backend}.log"
    container_side = backend == "docker"
    base_path = (
        f"{CONTAINER_MODEL_ROOT}/{cfg.model_name}" if container_side and not remote else store
    )
    files = C.render(cfg, base_path, versions or [], labels)
    C.write(files, out)
    config_dir = CONTAINER_CONFIG_DIR if container_side else str(out)
    rest_url = f"http://{s.host}:{s.rest_port}"
    handle = ServerHandle(
        cfg.name, backend, rest_url, f"{s.host}:{s.grpc_port}", cfg.model_name, str(log_file)
    )
    if backend == "docker":
        handle.container = f"mlops-serving-{cfg.name}-{os.getpid()}"
        flags = C.server_flags(cfg, config_dir, files, GRPC_PORT, REST_PORT)
        mounts = [] if remote else ["-v", f"{store}:{base_path}:ro"]
        credentials = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        if remote and credentials:
            mounts += [
                "-v",
                f"{credentials}:/secrets/gcp.json:ro",
                "-e",
                "GOOGLE_APPLICATION_CREDENTIALS=/secrets/gcp.json",
            ]
        cmd = [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            handle.container,
            "-p",
            f"{s.host}:{s.rest_port}:{REST_PORT}",
            "-p",
            f"{s.host}:{s.grpc_port}:{GRPC_PORT}",
            *mounts,
            "-v",
            f"{out}:{CONTAINER_CONFIG_DIR}:ro",
            s.image,
            *flags,
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise MlopsError(f"docker run failed: {result.stderr.strip()[-2000:]}")
    else:
        flags = C.server_flags(cfg, config_dir, files, s.grpc_port, s.rest_port)
        if backend == "binary":
            cmd = [shutil.which(BINARY) or BINARY, *flags, "--rest_api_timeout_in_ms=30000"]
        else:
            cmd = [
                sys.executable,
                "-m",
                "serving.standin.server",
                *flags,
                f"--rest_api_host={s.host}",
                f"--max_request_bytes={s.max_request_bytes}",
            ]
        with log_file.open("w") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        handle.pid = proc.pid
    (out / STATE_FILE).write_text(json.dumps(asdict(handle), indent=1))
    return handle


def read_state(cfg: EnvironmentConfig) -> ServerHandle | None:
    path = serving_dir(cfg) / STATE_FILE
    if not path.exists():
        return None
    return ServerHandle(**json.loads(path.read_text()))


def is_running(handle: ServerHandle) -> bool:
    if handle.container:
        result = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", handle.container],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() == "true"
    if handle.pid is None:
        return False
    try:
        os.kill(handle.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (exited, not yet reaped) is not running.
    try:
        return os.waitpid(handle.pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def log_tail(handle: ServerHandle, lines: int = 30) -> str:
    if handle.container:
        result = subprocess.run(
            ["docker", "logs", "--tail", str(lines), handle.container],
            capture_output=True,
            text=True,
        )
        text = result.stdout + result.stderr
    else:
        path = Path(handle.log_file)
        text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.strip().splitlines()[-lines:]) or "(the log is empty)"


@dataclass(frozen=True)
class VersionStatus:
    """One entry of TF Serving's model_version_status: the state and, after a failed load, the
    error (upstream reports a version that could not load as END with a non-OK status)."""

    state: str
    error_code: str = "OK"
    error_message: str = ""

    @property
    def failed(self) -> bool:
        return self.state == "END" and (
            self.error_code not in ("OK", "") or bool(self.error_message)
        )

    def describe(self) -> str:
        return f"{self.error_code}: {self.error_message}" if self.failed else self.state


def version_statuses(handle: ServerHandle, timeout: float = 2.0) -> dict[str, VersionStatus]:
    """Version -> status from the REST status route; {} if the server does not answer yet."""
    url = f"{handle.rest_url}/v1/models/{handle.model_name}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return {}
    out = {}
    for entry in body.get("model_version_status", []):
        status = entry.get("status") or {}
        out[str(entry["version"])] = VersionStatus(
            entry["state"],
            str(status.get("error_code") or "OK"),
            str(status.get("error_message") or ""),
        )
    return out


def model_states(handle: ServerHandle, timeout: float = 2.0) -> dict[str, str]:
    """Version -> state from the REST status route; {} if the server does not answer yet."""
    return {v: s.state for v, s in version_statuses(handle, timeout).items()}


def wait_ready(
    handle: ServerHandle, timeout: float, versions: list[int] | None = None
) -> dict[str, str]:
    """Block until a version is AVAILABLE (a 200 on the status route alone is not enough).

    A version that the server reports END with an error failed to load, and the server will not
    retry it until it changes: stop at once with that error rather than wait out `timeout`.
    `versions` limits that to the versions asked for (None: any version the server reports).
    """
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        statuses = version_statuses(handle)
        failed = {
            v: s
            for v, s in statuses.items()
            if s.failed and (not versions or (v.isdigit() and int(v) in versions))
        }
        if failed:
            shown = "; ".join(f"version {v}: {s.describe()}" for v, s in sorted(failed.items()))
            raise ServerNotReady(
                f"the server could not load model {handle.model_name} ({shown}); it reports "
                f"the version END and will not retry it until it changes. Its log "
                f"({handle.log_file}) ends with:\n{log_tail(handle)}"
            )
        states = {v: s.state for v, s in statuses.items()}
        if "AVAILABLE" in states.values():
            return states
        if not is_running(handle):
            raise ServerNotReady(
                f"the {handle.backend} server exited before the model was "
                f"available. Its log ({handle.log_file}) ends with:\n"
                f"{log_tail(handle)}"
            )
        time.sleep(0.5)
    seen = ", ".join(f"version {v} {s}" for v, s in states.items()) or "no answer"
    raise ServerNotReady(
        f"model {handle.model_name} was not AVAILABLE after {timeout:.0f} s "
        f"(serving.readiness_timeout_seconds; last status: {seen}). The "
        f"server's log ({handle.log_file}) ends with:\n{log_tail(handle)}"
    )


def stop(handle: ServerHandle, cfg: EnvironmentConfig | None = None) -> None:
    if handle.container:
        subprocess.run(["docker", "stop", "-t", "10", handle.container], capture_output=True)
    elif handle.pid is not None and is_running(handle):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(handle.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while is_running(handle) and time.monotonic() < deadline:
            time.sleep(0.2)
        if is_running(handle):
            os.killpg(handle.pid, signal.SIGKILL)
    if cfg is not None:
        (serving_dir(cfg) / STATE_FILE).unlink(missing_ok=True)


def server_urls(cfg: EnvironmentConfig) -> tuple[str, str]:
    """(REST base URL, gRPC target) of `cfg`'s server: the one `mlops serve --detach` started,
    else the host and ports the environment's config names."""
    handle = read_state(cfg)
    if handle is not None and is_running(handle):
        return handle.rest_url, handle.grpc_target
    s = cfg.serving
    return f"http://{s.host}:{s.rest_port}", f"{s.host}:{s.grpc_port}"
