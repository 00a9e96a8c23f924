"""The Grafana dashboard: every query parses (promtool), and every metric it names is on a
running TF Serving stand-in's metrics page, or is a recording rule of delivery.alerts, or is
what `mlops monitor` exports. A renamed series or rule breaks this test, not a panel in prod."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from core import config
from delivery import alerts, dashboard
from delivery.manifests import app_name
from serving.client import PredictionError, RestClient
from store import rows as R
from tests.support import promtool
from tests.support.servers import BATCHING, MODEL, Served, start_server, stop_server

# Grafana's variables, as a person would pick them; `$__rate_interval` is Grafana's own.
VARIABLES = {
    "$__rate_interval": "5m",
    "$namespace": "taxi-tips-dev",
    "$model": MODEL,
    "$environment": "dev",
}
METRIC = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{")
EXPORTED = {alerts.DRIFT, alerts.DRIFT_THRESHOLD, alerts.RELEASE_INFO}


def _concrete(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


def _metrics(expr: str) -> set[str]:
    return set(METRIC.findall(expr)) - {"by", "without", "on", "ignoring"}


def test_every_query_parses(tmp_path: Path) -> None:
    exprs = dashboard.queries(dashboard.load())
    assert len(exprs) >= 10
    rules = [{"record": f"dashboard:query{i}", "expr": _concrete(e)} for i, e in enumerate(exprs)]
    result = promtool.check_rules([{"name": "dashboard", "rules": rules}], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "$" not in "".join(_concrete(e) for e in exprs)


def test_it_shows_what_the_issue_asks_for() -> None:
    board = dashboard.load()
    text = " ".join(dashboard.queries(board))
    titles = {p["title"] for p in board["panels"]}
    assert {"Request rate", "Error ratio", "Latency quantiles", "Batch sizes"} <= titles
    assert "Serving drift" in titles and alerts.DRIFT in text
    annotation = board["annotations"]["list"][0]
    assert alerts.RELEASE_INFO in annotation["expr"] and "{{version}}" in annotation["textFormat"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_its_recording_rules_are_the_environments(env: str) -> None:
    cfg = config.load(env)
    recorded = {r["record"] for r in alerts.recording_rules(cfg)}
    named = {
        m for e in dashboard.queries(dashboard.load()) for m in _metrics(e) if m.count(":") == 2
    }
    named = {m for m in named if not m.startswith(":tensorflow")}
    assert named and named <= recorded


def test_the_configmap_carries_the_committed_json() -> None:
    cfg = config.load("staging")
    doc = yaml.safe_load(dashboard.render(cfg, app_name(cfg), "a: b"))
    assert doc["metadata"]["labels"][dashboard.SIDECAR_LABEL] == "1"
    (text,) = doc["data"].values()
    assert text == dashboard.DASHBOARD.read_text()


@pytest.fixture(scope="module")
def busy_standin(trained, transform_run, tmp_path_factory) -> Iterator[Served]:
    """The stand-in with server-side batching, after concurrent requests and one bad one."""
    server = start_server(
        tmp_path_factory.mktemp("dashboard"),
        "local",
        {1: trained.export_dir},
        serving={"batching": BATCHING},
    )
    try:
        client = RestClient(server.rest_url, MODEL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [s["state"] for s in client.status()["model_version_status"]]
            if "AVAILABLE" in states:
                break
            time.sleep(0.5)
        examples = R.examples(transform_run.probe_rows[:4])
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: client.predict(examples), range(32)))
        with pytest.raises(PredictionError):
            client.predict([b"not a tf.Example"])
        yield server
    finally:
        stop_server(server)


@pytest.mark.slow
def test_every_metric_it_names_exists(busy_standin: Served) -> None:
    cfg = config.load("dev", busy_standin.environments)
    url = busy_standin.rest_url + cfg.serving.monitoring_path
    page = urllib.request.urlopen(url, timeout=30).read().decode()
    on_page = {
        line.split("{")[0].split(" ")[0] for line in page.splitlines() if not line.startswith("#")
    }
    recorded = {r["record"] for r in alerts.recording_rules(cfg)}
    missing = {}
    for expr in dashboard.queries(dashboard.load()):
        names = _metrics(expr)
        assert names, f"no metric found in {expr!r}"
        gone = names - on_page - recorded - EXPORTED
        if gone:
            missing[expr] = sorted(gone)
    assert not missing, f"metrics not on the stand-in's page, nor rules, nor exported: {missing}"
