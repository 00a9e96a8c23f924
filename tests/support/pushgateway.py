"""A real Prometheus Pushgateway for tests: Debian's `prometheus-pushgateway` (`make
monitoring-tools`), started on a free loopback port without persistence, ready when its
/-/ready says so, stopped by its process."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.ready import wait_ready
from tests.support.servers import free_port


def binary() -> str | None:
    return shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")


@dataclass
class Pushgateway:
    url: str
    address: str
    process: subprocess.Popen[bytes]
    log: Path

    def metrics(self) -> str:
        """What Prometheus scrapes: every pushed group's series with its grouping labels."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as r:
            return r.read().decode()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def start(workdir: Path, timeout: float = 30.0) -> Pushgateway:
    exe = binary()
    if exe is None:
        raise RuntimeError("prometheus-pushgateway is not installed: run `make monitoring-tools`")
    workdir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    log = workdir / "pushgateway.log"
    process = subprocess.Popen(
        [exe, f"--web.listen-address={address}", "--persistence.file="],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    gateway = Pushgateway(f"http://{address}", address, process, log)
    wait_ready("pushgateway", gateway, timeout, 0.1)
    return gateway
