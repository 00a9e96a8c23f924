"""Sampling through a real nginx (Debian's) in front of the TF Serving stand-in: predict requests
are mirrored to the request logger, whose store then holds their rows (configured fields only);
a dead or stuck logger never fails a prediction; and the p99 with sampling on and off is
measured in one run with locust through nginx."""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from core import config
from core.config import EnvironmentConfig
from serving import loadtest
from serving.client import RestClient, predict_body
from serving.sampling import MIRROR_TIMEOUT_MS, Sampler, nginx_conf
from store import request_log as L
from store import rows as R
from tests.support.servers import MODEL, Served, free_port, start_server, stop_server

FIELDS = ["fare", "trip_miles", "company", "payment_type"]


@dataclasses.dataclass
class World:
    served: Served
    cfg: EnvironmentConfig
    sampler: Sampler
    store: Path
    examples: list[bytes]


def _wait_available(url: str) -> None:
    client = RestClient(url, MODEL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "AVAILABLE" in [s["state"] for s in client.status()["model_version_status"]]:
            return
        time.sleep(0.5)
    raise AssertionError("the stand-in never reported AVAILABLE")


@pytest.fixture(scope="module")
def world(trained, transform_run, tmp_path_factory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("sampling")
    store = root / "request_log"
    served = start_server(
        root,
        "local",
        {1: trained.export_dir},
        monitoring={
            "request_log": {
                "store": str(store),
                "fields": FIELDS,
                "proxy_port": free_port(),
                "logger_port": free_port(),
            }
        },
    )
    cfg = config.load("dev", served.environments, output_root=str(served.output))
    upstream = int(served.rest_url.rsplit(":", 1)[1])
    sampler = Sampler(root / "nginx", free_port(), upstream, free_port())
    try:
        _wait_available(served.rest_url)
        sampler.start(cfg)
        yield World(served, cfg, sampler, store, R.examples(transform_run.probe_rows[:8]))
    finally:
        sampler.stop()
        stop_server(served)


def _rows(store: Path, at_least: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if store.is_dir():
            window = L.read_window(store, 100_000)
            if len(window.rows) >= at_least:
                return window.rows
        time.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} sampled rows in {store}")


@pytest.mark.slow
def test_predictions_through_nginx_land_in_the_store(world: World) -> None:
    client = RestClient(world.sampler.url, MODEL)
    before = len(L.read_window(world.store, 100_000).rows) if world.store.is_dir() else 0
    for _ in range(5):
        assert len(client.predict(world.examples)) == len(world.examples)
    rows = _rows(world.store, before + 5 * len(world.examples))
    assert all(set(r) <= {L.TIME, *FIELDS} for r in rows)
    assert {"fare", "company"} <= set(rows[-1])
    # Status and metadata go through the proxy too, and are not sampled.
    assert client.status()["model_version_status"]
    time.sleep(0.5)
    assert len(L.read_window(world.store, 100_000).rows) == before + 5 * len(world.examples)


@pytest.mark.slow
def test_a_dead_logger_fails_no_prediction(world: World) -> None:
    world.sampler.stop("logger")
    try:
        client = RestClient(world.sampler.url, MODEL)
        started = time.perf_counter()
        for _ in range(20):
            assert len(client.predict(world.examples)) == len(world.examples)
        assert (time.perf_counter() - started) / 20 < 0.5
    finally:
        world.sampler.start_logger(world.cfg)


# What a stuck logger may add to a prediction: the mirror's 50 ms timeout, and slack for a shared
# CI machine (test_the_mirror_timeouts_are_the_documented_bound pins the timeout itself).
STUCK_BUDGET_S = 0.6


def _copies(stuck: socket.socket) -> list[bytes]:
    """The request heads of the copies nginx sent the stuck logger (accepted only now)."""
    stuck.settimeout(0.5)
    heads: list[bytes] = []
    while True:
        try:
            connection, _ = stuck.accept()
        except TimeoutError:
            return heads
        with connection:
            connection.settimeout(0.5)
            try:
                heads.append(connection.recv(4096).split(b"\r\n", 1)[0])
            except TimeoutError:
                heads.append(b"")


@pytest.mark.slow
def test_a_stuck_logger_costs_at_most_the_mirror_timeout(world: World) -> None:
    """A logger that accepts connections and never answers, and a client that keeps its
    connection open between predictions (as locust and most SDKs do). nginx answers each
    prediction with TF Serving's answer, but reads the next request on the connection only when
    the copy is done: the mirror's timeout is what bounds that wait. Every copy must have reached
    the stuck logger, so the bound is measured on the stuck path, not on no mirror at all."""
    assert MIRROR_TIMEOUT_MS / 1000 < STUCK_BUDGET_S  # the budget covers the rendered timeout
    world.sampler.stop("logger")
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # nginx's closed connections
    stuck.bind(("127.0.0.1", world.sampler.logger_port))
    stuck.listen(128)  # accepted by the kernel, never read until the end
    body = json.dumps(predict_body(world.examples))
    expected = RestClient(world.served.rest_url, MODEL).predict(world.examples)
    connection = http.client.HTTPConnection("127.0.0.1", world.sampler.listen, timeout=10)
    try:
        times = []
        for number in range(1, 7):
            started = time.perf_counter()
            connection.request(
                "POST", f"/v1/models/{MODEL}:predict", body, {"Content-Type": "application/json"}
            )
            try:
                response = connection.getresponse()
            except TimeoutError:
                pytest.fail(f"prediction {number} unanswered after 10 s: the stuck logger held it")
            answer = json.loads(response.read())
            times.append(time.perf_counter() - started)
            assert response.status == 200, answer
            got = np.asarray(answer["predictions"], np.float32).reshape(expected.shape)
            assert np.array_equal(got, expected)  # TF Serving's own answer, through nginx
        copies = _copies(stuck)
    finally:
        connection.close()
        stuck.close()
        world.sampler.start_logger(world.cfg)
    predict_line = f"POST /v1/models/{MODEL}:predict HTTP/1.1".encode()
    assert len(copies) >= len(times) - 1 and set(copies) == {predict_line}, copies
    assert max(times) < STUCK_BUDGET_S, [f"{t:.3f}" for t in times]


def _copies_timed_out(error_log: Path, offset: int) -> int:
    """Copies nginx gave up on (the mirror's timeout) since `offset` in its error log."""
    text = error_log.read_bytes()[offset:].decode(errors="replace")
    return sum(
        1 for line in text.splitlines() if "timed out" in line and 'subrequest: "/_sample"' in line
    )


def test_the_mirror_timeouts_are_the_documented_bound() -> None:
    """Every timeout of the copy's location is at most 50 ms (docs/monitoring.md's bound on what
    a stuck logger costs a kept-alive client per prediction). Fixed here, not read from
    MIRROR_TIMEOUT_MS, so raising the timeout fails."""
    conf = nginx_conf(Path("/tmp/x"), 1, 2, 3, 100.0)
    location = conf.split("location = /_sample {", 1)[1].split("\n    }", 1)[0]
    found = dict(re.findall(r"(proxy_\w+_timeout) (\d+)ms;", location))
    assert set(found) == {"proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"}
    assert all(int(ms) <= 50 for ms in found.values()), found


@pytest.mark.slow
def test_p99_with_sampling_off_on_and_a_stuck_logger(
    world: World, tmp_path: Path, ci_report
) -> None:
    """Three nginx proxies over the same server in one run: one mirroring every request to the
    logger, one mirroring to a socket that never answers, and one copying nothing. The mirror
    must not multiply the tail, a stuck logger may add at most its timeout, and the copies the
    healthy logger could not answer in time (lost samples) stay few."""
    up = world.sampler.upstream
    off = Sampler(tmp_path / "off", free_port(), up, world.sampler.logger_port)
    off.start_nginx(100, mirror=False)
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(4096)  # accepted by the kernel, never read
    hung = Sampler(tmp_path / "stuck", free_port(), up, stuck.getsockname()[1])
    hung.start_nginx(100)
    cfg = dataclasses.replace(
        world.cfg, loadtest=dataclasses.replace(world.cfg.loadtest, warmup_seconds=2)
    )
    error_log = world.sampler.prefix / "error.log"
    figures = {}
    try:
        runs = (("off", off.url), ("on", world.sampler.url), ("stuck", hung.url))
        for name, url in (*runs, ("off again", off.url)):
            offset = error_log.stat().st_size if error_log.exists() else 0
            result = loadtest.run(
                cfg, url, world.examples, tmp_path / name.replace(" ", "_"), users=8, seconds=8
            )
            assert result.requests > 0 and result.failures == 0, name
            figures[name] = result
            if name == "on":
                lost = _copies_timed_out(error_log, offset)
    finally:
        off.stop()
        hung.stop()
        stuck.close()
    on, hung_p99 = figures["on"].p99_ms, figures["stuck"].p99_ms
    base = max(figures["off"].p99_ms, figures["off again"].p99_ms)
    text = (
        f"p99 sampling off: {figures['off'].p99_ms:.0f} ms, {figures['off again'].p99_ms:.0f} ms"
        f" (again); on: {on:.0f} ms ({figures['on'].requests} requests, {lost} copies timed "
        f"out); stuck logger: {hung_p99:.0f} ms ({figures['stuck'].requests} requests)"
    )
    print(text)
    ci_report("sampling overhead (nginx mirror, locust, 8 users)", text)
    # Shared CPUs make absolute figures noisy: the mirror must not multiply the tail, and a
    # stuck logger may add at most the mirror's timeout (50 ms, fixed as above).
    assert on <= 2 * base + 50, text
    assert hung_p99 <= 2 * base + 50 + 50, text
    assert lost <= 0.05 * figures["on"].requests, text


@pytest.mark.slow
def test_mlops_sample_starts_and_stops_the_same_path(world: World, tmp_path: Path) -> None:
    """The local path: `mlops sample` puts nginx and the logger in front of `mlops serve`."""
    r = world.cfg.monitoring.request_log
    started = world.served.cli("sample")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        url = f"http://127.0.0.1:{r.proxy_port}"
        assert url in started.stdout
        before = len(L.read_window(world.store, 100_000).rows) if world.store.is_dir() else 0
        assert len(RestClient(url, MODEL).predict(world.examples)) == len(world.examples)
        _rows(world.store, before + len(world.examples))
        again = world.served.cli("sample")
        assert again.returncode == 2 and "already started" in again.stderr
    finally:
        stopped = world.served.cli("sample", "--stop")
    assert stopped.returncode == 0 and "sampling stopped" in stopped.stdout
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", r.proxy_port)) != 0
