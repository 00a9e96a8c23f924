"""The request-log store in a real OCI registry (CNCF Distribution on loopback): rotated files
are published, read back newest first and kept to max_files; a registry that is down or stuck
is counted and retried, and never holds up a copy the mirror sends or the logger's appends."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core import config
from core.errors import InfraError
from serving.sampling import Sampler
from store import request_log as L
from store.request_log import Publisher
from store.request_log_registry import ARTIFACT_TYPE, RequestLogRegistry
from tests.support.repo import update_overlay
from tests.support.samples import registry_store
from tools.local_registry import Registry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fill(writer: L.Writer, publisher: Publisher, start: int, stop: int) -> None:
    """Rows n = start..stop-1; the publisher runs at each rotation, as the logger's thread does."""
    for n in range(start, stop):
        before = writer.rotations
        writer.append([{"n": [n], "secret": ["Ada"]}])
        if writer.rotations != before:
            assert publisher.publish_pending() == ""


@pytest.mark.slow
def test_rotated_files_are_published_read_back_and_kept_to_max_files(
    registry: Registry, tmp_path: Path
) -> None:
    uri = registry_store(registry, "dev/request-log")
    writer = L.Writer(tmp_path / "spool", ["n"], max_file_bytes=1024, max_files=3)
    publisher = Publisher(uri, tmp_path / "spool", max_files=3)
    _fill(writer, publisher, 0, 400)
    store = RequestLogRegistry(uri)
    tags = store.files()
    assert len(tags) == 3 and publisher.counts["published"] > 3
    assert publisher.counts["remote_deleted"] == publisher.counts["published"] - 3
    assert publisher.pending() == []  # published files leave the spool
    window = L.read_window(uri, 10**6)
    numbers = [r["n"][0] for r in window.rows]
    unpublished = [r["n"][0] for r in L.read_window(tmp_path / "spool", 10**6).rows]
    assert numbers and numbers == list(range(numbers[0], unpublished[0]))  # newest, in order
    assert window.files == 3 and window.skipped == 0
    assert all(set(r) == {L.TIME, "n"} for r in window.rows)
    assert L.read_window(uri, 5).rows == window.rows[-5:]
    # An independent client sees an ORAS-style artifact: its type, and a titled gzip layer.
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{uri[6:]}:{tags[-1]}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    manifest = json.loads(raw)
    assert manifest["artifactType"] == ARTIFACT_TYPE
    title = manifest["layers"][0]["annotations"]["org.opencontainers.image.title"]
    assert title == f"{tags[-1]}.jsonl.gz"


@pytest.mark.slow
def test_a_publish_failure_is_counted_kept_and_retried_at_the_next_rotation(
    tmp_path: Path,
) -> None:
    port = _free_port()
    uri = f"oci://127.0.0.1:{port}/acme/request-log"
    writer = L.Writer(tmp_path / "spool", ["n"], max_file_bytes=1024, max_files=10)
    publisher = Publisher(uri, tmp_path / "spool", max_files=10)
    for n in range(30):
        writer.append([{"n": [n]}])
    writer.rotate()
    problem = publisher.publish_pending()
    assert "cannot publish to " + uri in problem and "cannot reach" in problem, problem
    assert publisher.counts["publish_failures"] == 1 and publisher.counts["published"] == 0
    assert len(publisher.pending()) == 1  # kept in the spool for the next try
    with pytest.raises(InfraError, match=r"monitoring\.request_log\.store"):
        L.read_window(uri, 100)
    started = Registry(tmp_path / "registry", port=port)
    try:
        for n in range(30, 60):
            writer.append([{"n": [n]}])
        writer.rotate()
        assert publisher.publish_pending() == ""
        assert publisher.counts["published"] == 2 and publisher.pending() == []
        assert [r["n"][0] for r in L.read_window(uri, 100).rows] == list(range(60))
    finally:
        started.stop()


@pytest.mark.slow
def test_files_with_the_same_bytes_are_two_artifacts(registry: Registry, tmp_path: Path) -> None:
    """Each file its own manifest digest: a registry that deletes every tag of a deleted digest
    (GHCR deletes the package version) must not lose the newer file with the older."""
    uri = registry_store(registry, "same/request-log")
    spool = tmp_path / "spool"
    spool.mkdir()
    tags = [f"requests-{n:020d}" for n in (1, 2)]
    for tag in tags:
        (spool / f"{tag}.jsonl").write_text('{"n": [1]}\n')
    assert Publisher(uri, spool, max_files=2).publish_pending() == ""
    store = RequestLogRegistry(uri)
    assert store.files() == tags
    assert len({store.tag_digest(tag) for tag in tags}) == 2
    assert store.prune(1) == 1 and store.files() == tags[1:]
    assert [r["n"] for r in L.read_window(uri, 10).rows] == [[1]]


def _post(url: str, n: int) -> float:
    body = json.dumps({"instances": [{"n": [n], "pad": ["x" * 200]}]}).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204
    return time.perf_counter() - start


def _health(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return json.loads(response.read())


def _logger(store: str, spool: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "serving.request_logger", "--store", store, "--spool", str(spool)]
    args += [
        "--fields",
        "n,pad",
        "--port",
        str(port),
        "--max-file-bytes",
        "1024",
        "--max-files",
        "50",
    ]
    proc = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _health(port)
            return proc
        except OSError:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the request logger did not start: {log.read_text()}")


def test_a_stuck_registry_delays_no_copy_and_no_append(tmp_path: Path) -> None:
    """A registry that accepts connections and never answers: the publisher thread waits on it,
    while every copy is answered at once and every row still reaches the spool."""
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(100)
    uri = f"oci://127.0.0.1:{stuck.getsockname()[1]}/acme/request-log"
    port = _free_port()
    proc = _logger(uri, tmp_path / "spool", port, tmp_path / "logger.log")
    try:
        seconds = [_post(f"http://127.0.0.1:{port}/v1/models/m:predict", n) for n in range(200)]
        deadline = time.monotonic() + 30
        while _health(port)["rows"] < 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        health = _health(port)
    finally:
        proc.kill()
        proc.wait()
        stuck.close()
    assert health["rows"] == 200 and health["published"] == 0, health
    assert len(list((tmp_path / "spool").glob("requests-*.jsonl"))) > 5  # rotated, unpublished
    assert max(seconds) < 1.0, f"slowest copy answered in {max(seconds):.3f} s"


@pytest.mark.slow
def test_the_logger_publishes_its_last_file_when_stopped(
    registry: Registry, tmp_path: Path
) -> None:
    uri = registry_store(registry, "staging/request-log")
    port = _free_port()
    proc = _logger(uri, tmp_path / "spool", port, tmp_path / "logger.log")
    try:
        for n in range(30):
            _post(f"http://127.0.0.1:{port}/v1/models/m:predict", n)
        deadline = time.monotonic() + 30
        while _health(port)["rows"] < 30 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    numbers = [r["n"][0] for r in L.read_window(uri, 1000).rows]
    assert numbers == list(range(30)), (tmp_path / "logger.log").read_text()
    assert not list((tmp_path / "spool").glob("requests*.jsonl"))


@pytest.mark.slow
def test_the_sampling_path_spools_locally_and_publishes_to_a_registry_store(
    registry: Registry, environments: Path, tmp_path: Path
) -> None:
    """`mlops sample`'s logger for an oci:// store: rows wait in the sampler's spool and reach
    the registry, where `mlops monitor` reads them."""
    uri = registry_store(registry, "sampled/request-log")
    update_overlay(
        environments, "dev", {"monitoring": {"request_log": {"store": uri, "fields": ["n"]}}}
    )
    cfg = config.load("dev", environments, output_root=str(tmp_path / "out"))
    logger_port = _free_port()
    sampler = Sampler(tmp_path / "sampling", _free_port(), _free_port(), logger_port)
    sampler.prefix.mkdir(parents=True)
    try:
        sampler.start_logger(cfg)
        for n in range(20):
            _post(f"http://127.0.0.1:{logger_port}/v1/models/m:predict", n)
        deadline = time.monotonic() + 30
        while _health(logger_port)["rows"] < 20 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (tmp_path / "sampling" / "spool" / L.CURRENT).exists()
    finally:
        sampler.stop("logger")
    assert [r["n"][0] for r in L.read_window(uri, 100).rows] == list(range(20))
