"""Waiting for a real server a test started (Prometheus, the Pushgateway) to say it is ready."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from typing import Protocol


class Started(Protocol):
    url: str
    process: subprocess.Popen[bytes]

    def tail(self) -> str: ...

    def stop(self) -> None: ...


def wait_ready(name: str, server: Started, timeout: float, interval: float = 0.1) -> None:
    """Until its /-/ready answers 200; a process that exits, or no answer in time, is an error
    with the end of its log (and the server stopped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.process.returncode}: {server.tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(interval)
    server.stop()
    raise RuntimeError(f"{name} not ready after {timeout} s: {server.tail()}")
