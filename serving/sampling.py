"""Sampling live requests: nginx in front of TF Serving mirrors predict requests to the request
logger (serving/request_logger.py), which appends their rows to the request-log store.

Why a proxy mirror: it works with the real, unmodified tensorflow/serving image, which cannot
log requests (tensorflow/serving issues 408 and 1846); the same nginx config runs as a sidecar
in a pod or on a laptop, and a Gateway API `RequestMirror` filter can replace it in a cluster.
nginx sends the copy as a subrequest and ignores its answer. `split_clients` picks
monitoring.request_log.sample_percent of requests; the others are answered 204 inside nginx.
nginx answers the client without waiting for the copy, but reads the next request on a kept-alive
client connection only once the copy is done: the mirror's tight timeouts are what bound the
delay a stuck logger adds to such a client's next prediction (tests/serving/test_sampling.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.config import EnvironmentConfig
from core.errors import ConfigError, InfraError
from core.uris import is_remote

NGINX = ("nginx", "/usr/sbin/nginx")
HINT = "nginx not found: run `make monitoring-tools` (Debian package nginx-light)"
MIRROR_TIMEOUT_MS = 50  # how long nginx keeps a copy to a stuck logger (docs/monitoring.md)
PREDICT = r"^/v1/models/[^/]+(/versions/[0-9]+|/labels/[A-Za-z0-9_]+)?:(predict|classify|regress)$"


def nginx_binary() -> str:
    found = next((p for name in NGINX if (p := shutil.which(name) or "") and Path(p).exists()), "")
    if not found:
        raise RuntimeError(HINT)
    return found


def nginx_conf(
    prefix: Path,
    listen: int,
    upstream: int,
    logger: int,
    sample_percent: float,
    host: str = "127.0.0.1",
    mirror: bool = True,
) -> str:
    """nginx.conf: the proxy on `listen`, TF Serving's REST port upstream, copies to the logger
    (without `mirror`, the same proxy copying nothing: sampling off, for comparison)."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # temp paths below stay ours
    share = f"{sample_percent:g}%"
    return f"""# Rendered by serving/sampling.py: TF Serving behind nginx, predictions mirrored.
{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  upstream tf_serving {{ server {host}:{upstream}; keepalive 32; }}
  upstream request_logger {{ server {host}:{logger}; keepalive 8; }}
  split_clients "$request_id" $sampled {{ {share} "yes"; * ""; }}
  server {{
    listen {host}:{listen};
    location ~ "{PREDICT}" {{
      {"mirror /_sample;" if mirror else "# sampling off: no mirror"}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://tf_serving;
    }}
    location / {{
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://tf_serving;
    }}
    location = /_sample {{
      internal;
      if ($sampled = "") {{ return 204; }}
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout {MIRROR_TIMEOUT_MS}ms;
      proxy_send_timeout {MIRROR_TIMEOUT_MS}ms;
      proxy_read_timeout {MIRROR_TIMEOUT_MS}ms;
      proxy_pass http://request_logger$request_uri;
    }}
  }}
}}
"""


def _wait_port(host: str, port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {host}:{port} within 30 s")


@dataclass
class Sampler:
    """nginx and the request logger, as local processes under `prefix`."""

    prefix: Path
    listen: int
    upstream: int
    logger_port: int
    host: str = "127.0.0.1"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    detached: bool = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.listen}"

    def start_logger(self, cfg: EnvironmentConfig) -> None:
        r = cfg.monitoring.request_log
        log = self.prefix / "request_logger.log"
        args = [sys.executable, "-m", "serving.request_logger", "--store", r.store]
        if is_remote(r.store):  # a registry store: rotated files leave from a local spool
            args += ["--spool", str(self.prefix / "spool")]
        args += ["--fields", ",".join(r.fields), "--host", self.host]
        args += ["--port", str(self.logger_port), "--max-file-bytes", str(r.max_file_bytes)]
        args += ["--max-files", str(r.max_files)]
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args, stdout=out, stderr=subprocess.STDOUT, start_new_session=self.detached
            )
        self.processes["logger"] = proc
        _wait_port(self.host, self.logger_port, proc, "the request logger", log)

    def start_nginx(self, sample_percent: float, mirror: bool = True) -> None:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            nginx_conf(
                self.prefix,
                self.listen,
                self.upstream,
                self.logger_port,
                sample_percent,
                self.host,
                mirror,
            )
        )
        log = self.prefix / "error.log"
        check = subprocess.run(
            [nginx_binary(), "-t", "-p", str(self.prefix), "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t refused {conf}: {check.stderr}")
        proc = subprocess.Popen(
            [nginx_binary(), "-p", str(self.prefix), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=self.detached,
        )
        self.processes["nginx"] = proc
        _wait_port(self.host, self.listen, proc, "nginx", log)

    def stop(self, name: str | None = None) -> None:
        for key in [name] if name else list(self.processes):
            proc = self.processes.pop(key, None)
            if proc is None:
                continue
            proc.send_signal(signal.SIGTERM if key == "logger" else signal.SIGQUIT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def start(self, cfg: EnvironmentConfig) -> None:
        """The logger first, so nginx's first copy finds it."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.start_logger(cfg)
        self.start_nginx(cfg.monitoring.request_log.sample_percent)


STATE = "state.json"


def state_dir(cfg: EnvironmentConfig) -> Path:
    return Path(cfg.work_dir) / "sampling"


def start_detached(cfg: EnvironmentConfig, upstream: int, host: str) -> Sampler:
    """`mlops sample`: nginx and the logger in front of the environment's running server, left
    running; their pids go to <work dir>/sampling/state.json for `--stop`."""
    r = cfg.monitoring.request_log
    if not r.store:
        raise ConfigError(
            f"{cfg.name}: monitoring.request_log.store is empty, so sampling is off; set it "
            "(and monitoring.request_log.fields) to sample requests"
        )
    if (state_dir(cfg) / STATE).exists():
        raise ConfigError(
            f"sampling already started for {cfg.name} ({state_dir(cfg) / STATE}); "
            f"stop it first with `mlops sample --env {cfg.name} --stop`"
        )
    sampler = Sampler(state_dir(cfg), r.proxy_port, upstream, r.logger_port, host, detached=True)
    try:
        sampler.start(cfg)
    except RuntimeError as exc:
        sampler.stop()
        raise InfraError(f"sampling for {cfg.name} did not start: {exc}") from None
    pids = {name: proc.pid for name, proc in sampler.processes.items()}
    (state_dir(cfg) / STATE).write_text(json.dumps({"pids": pids, "url": sampler.url}))
    return sampler


def stop_detached(cfg: EnvironmentConfig) -> bool:
    """Stop what `start_detached` left running (by its recorded pids); False when nothing was."""
    path = state_dir(cfg) / STATE
    if not path.exists():
        return False
    pids = json.loads(path.read_text()).get("pids", {})
    for name, pid in pids.items():
        try:
            os.kill(int(pid), signal.SIGTERM if name == "logger" else signal.SIGQUIT)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + 15
    for pid in pids.values():
        while time.monotonic() < deadline:
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
    path.unlink()
    return True
