"""A real Prometheus for tests: started on a free port with a given scrape config, ready when
its /-/ready says so, asked through its HTTP API, stopped with its data folder.

Debian's `prometheus` package (`make monitoring-tools`) provides the binary.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.ready import wait_ready
from tests.support.servers import free_port


def binary() -> str | None:
    return shutil.which("prometheus")


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, **params: str) -> Any:
        """The `data` of one API call (GET /api/v1/<path>)."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str) -> list[dict[str, Any]]:
        return self.api("query", query=promql)["result"]

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until `promql` has a result (e.g. the first scrape landed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no result for {promql!r} after {timeout} s; log: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def static_target(job: str, address: str, metrics_path: str, labels: dict[str, str]) -> dict:
    """One scrape job of one target, its series carrying `labels` (as a PodMonitor's
    podTargetLabels would in the cluster)."""
    return {
        "job_name": job,
        "metrics_path": metrics_path,
        "static_configs": [{"targets": [address], "labels": labels}],
    }


def start(
    workdir: Path,
    jobs: list[dict],
    *,
    interval: str = "1s",
    timeout: float = 60.0,
    rule_groups: list[dict] | None = None,
) -> Prometheus:
    """Prometheus scraping `jobs` every `interval`, ready to answer queries; `rule_groups`
    (a rules file's, or a PrometheusRule's spec.groups) evaluated every `interval`."""
    exe = binary()
    if exe is None:
        raise RuntimeError("prometheus is not installed: run `make monitoring-tools`")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    settings: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": jobs,
    }
    if rule_groups is not None:
        rules = workdir / "rules.yml"
        rules.write_text(yaml.safe_dump({"groups": rule_groups}))
        settings["rule_files"] = [str(rules)]
    config.write_text(yaml.safe_dump(settings))
    port = free_port()
    log = workdir / "prometheus.log"
    process = subprocess.Popen(
        [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    wait_ready("prometheus", server, timeout, 0.2)
    return server
