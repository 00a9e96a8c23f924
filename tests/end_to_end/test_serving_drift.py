"""Serving drift end to end, with real components: the TF Serving stand-in serving the trained
model behind Debian's nginx, which mirrors every predict request to the request logger; a locust
load test of normal rows, then one of rows whose fares are x1.5. Normal traffic: no drift and
ServingDriftHigh quiet. Shifted traffic: `fare` named, the alert firing on the exported series
(promtool), and `mlops ct check` answering "retrain" with serving drift as its reason."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest
import yaml

from core import config
from serving import loadtest
from serving.client import RestClient
from serving.sampling import Sampler
from store import request_log as L
from store import rows as R
from tests.code.test_serving_drift import FIELDS, _alert_fires, _ct_check, _monitor
from tests.support import ct_data as D
from tests.support.samples import typed
from tests.support.servers import MODEL, free_port, start_server, stop_server

pytestmark = pytest.mark.slow

ROWS = 1000


def _release(environments: Path, model: Path, data: Path) -> None:
    D.write_dev_release(environments, model, data, model_name=MODEL)


def _wait_rows(store: Path, at_least: int) -> int:
    deadline = time.monotonic() + 30
    count = 0
    while time.monotonic() < deadline:
        count = len(L.read_window(store, 10 * at_least).rows) if store.is_dir() else 0
        if count >= at_least:
            time.sleep(1)  # the logger's queue drains
            return len(L.read_window(store, 10**6).rows)
        time.sleep(0.3)
    raise AssertionError(f"{count} sampled rows in {store}, expected {at_least}")


def test_shifted_traffic_becomes_a_retrain_reason(trained, tmp_path, capsys, ci_report) -> None:
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), 1500, seed=number))
    store = tmp_path / "request_log"
    served = start_server(
        tmp_path / "serve",
        "local",
        {1: trained.export_dir},
        monitoring={
            "request_log": {
                "store": str(store),
                "fields": FIELDS,
                "window_rows": ROWS,
                "min_rows": 200,
            }
        },
    )
    environments = served.environments
    _release(environments, trained.export_dir, data)
    cfg = config.load("dev", environments, output_root=str(served.output))
    cfg = dataclasses.replace(cfg, loadtest=dataclasses.replace(cfg.loadtest, warmup_seconds=1))
    sampler = Sampler(
        tmp_path / "nginx", free_port(), int(served.rest_url.rsplit(":", 1)[1]), free_port()
    )
    normal = R.examples(typed(D.benign(D.read(), ROWS, seed=7), tmp_path / "normal"))
    shifted = R.examples(
        typed(D.scaled(D.benign(D.read(), ROWS, seed=7), "fare"), tmp_path / "shifted")
    )
    figures = {}
    try:
        client = RestClient(served.rest_url, MODEL)
        deadline = time.monotonic() + 120
        while "AVAILABLE" not in [s["state"] for s in client.status()["model_version_status"]]:
            assert time.monotonic() < deadline, "the stand-in never loaded the model"
            time.sleep(0.5)
        sampler.start(cfg)
        for name, examples in (("normal", normal), ("shifted", shifted)):
            shutil.rmtree(store, ignore_errors=True)
            result = loadtest.run(
                cfg, sampler.url, examples, tmp_path / f"lt-{name}", users=4, seconds=10
            )
            assert result.failures == 0 and result.requests >= ROWS, (name, result.requests)
            samples = _wait_rows(store, ROWS)
            work = tmp_path / f"work-{name}"
            code, out = _monitor(environments, data, work, capsys)
            assert code == 0, out
            report = yaml.safe_load((work / "monitor" / "serving_drift.json").read_text())
            figures[name] = (samples, result.p99_ms, report)
            fired = _alert_fires(
                environments, work / "monitor" / "serving_drift.prom", tmp_path / name
            )
            ct_code, ct_out = _ct_check(environments, data, work, capsys)
            if name == "normal":
                assert report["verdict"] == "PASS", out
                assert fired == set()
                assert ct_code == 4 and "serving drift" not in ct_out, ct_out
            else:
                assert report["verdict"] == "WARN" and "  - fare: jensen_shannon " in out, out
                assert fired == {"fare"}
                assert ct_code == 0 and "dev: retrain" in ct_out, ct_out
                assert "serving drift in " in ct_out and ": fare: jensen_shannon" in ct_out
    finally:
        sampler.stop()
        stop_server(served)
    lines = []
    for name, (samples, p99, report) in figures.items():
        top = sorted(report["measures"], key=lambda m: m["value"] / m["threshold"], reverse=True)
        shown = ", ".join(
            f"{m['feature']} {m['measure']} {m['value']:.4f}/{m['threshold']}" for m in top[:3]
        )
        lines.append(f"{name}: {samples} samples, p99 {p99:.0f} ms, top measures: {shown}")
    print("\n".join(lines))
    ci_report("serving drift end to end (nginx mirror, locust)", "\n".join(lines))
