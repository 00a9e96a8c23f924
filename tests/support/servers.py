"""Servers for the serving tests: free ports, the CLI as a subprocess, environments whose dev
serves a given model store, and starting and stopping a backend over it."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from store.model_store import publish_atomically
from tests.support import fast_loop, project
from tests.support.repo import copy_environments, update_overlay

# The configured model name (environments/base model_name), whatever `mlops init` named it.
MODEL = project.MODEL


def needs(backend: str) -> list[pytest.MarkDecorator]:
    """The markers of what a serving backend needs from the machine, for its parametrized
    tests: `pytest -m "not docker"` leaves out the real container where Docker exists."""
    return [pytest.mark.docker] if backend == "docker" else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def mlops(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@dataclass
class Served:
    backend: str
    environments: Path
    output: Path
    store: Path
    rest_url: str
    grpc_target: str
    batching: bool = False

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        command, rest = args[0], args[1:]
        return mlops(
            "--environments",
            str(self.environments),
            command,
            "--env",
            "dev",
            "--output",
            str(self.output),
            *rest,
            timeout=timeout,
        )


def make_environment(root: Path, **dev_updates) -> Path:
    """A copy of environments/ whose dev overlay takes `dev_updates` (deep-merged)."""
    target = copy_environments(root)
    update_overlay(target, "dev", dev_updates)
    return target


def start_server(root: Path, backend: str, versions: dict[int, Path], **overlay_updates) -> Served:
    fast_loop.refuse(f"a model server ({backend}, through `mlops serve --detach`)")
    rest, grpc = free_port(), free_port()
    updates: dict[str, dict[str, Any]] = {
        "serving": {
            "rest_port": rest,
            "grpc_port": grpc,
            "file_system_poll_seconds": 1,
            "readiness_timeout_seconds": 180,
        }
    }
    for key, value in overlay_updates.items():
        updates.setdefault(key, {}).update(value)
    environments = make_environment(root, **updates)
    output = root / "out"
    store = output / "model_store" / MODEL
    store.mkdir(parents=True)
    for number, src in versions.items():
        publish_atomically(src, store, number)
    batching = updates.get("serving", {}).get("batching", {}).get("enabled")
    if batching is None:
        from core import config

        batching = config.load("dev", environments).serving.batching.enabled
    served = Served(
        backend,
        environments,
        output,
        store,
        f"http://127.0.0.1:{rest}",
        f"127.0.0.1:{grpc}",
        batching,
    )
    result = served.cli("serve", "--backend", backend, "--detach", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return served


def stop_server(served: Served) -> None:
    served.cli("serve", "--stop", timeout=120)


# With batching on, requests wait up to 20 ms for company, so concurrent ones share a batch
# (contract_cases.yaml's batch-size cases assume max_batch_size 16).
BATCHING = {
    "enabled": True,
    "max_batch_size": 16,
    "batch_timeout_micros": 20000,
    "max_enqueued_batches": 100,
}


def loadtest_args(served: Served, rows: Path, seconds: int | str) -> list[str]:
    """`mlops` arguments for a load test of `served`'s dev environment with these rows; a test
    adds its own flags (`--record`, `--users`) after them."""
    return [
        "--environments",
        str(served.environments),
        "loadtest",
        "--env",
        "dev",
        "--output",
        str(served.output),
        "--rows",
        str(rows),
        "--seconds",
        str(seconds),
    ]
