"""`mlops monitor` delivers its figures to a real Pushgateway (Debian's prometheus-pushgateway),
grouped by job, environment and model_name; a push that fails exits 3 with the figures still
written locally; and a real Prometheus scraping the Pushgateway with honor_labels, loaded with
the environment's rendered PrometheusRule, fires ServingDriftHigh on shifted samples only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core import config
from delivery import alerts
from delivery.manifests import app_name
from mlops import cli
from pipeline import metrics_push
from pipeline import serving_drift as M
from tests.support import ct_data as D
from tests.support import project, prometheus_server, pushgateway
from tests.support.project import MODEL
from tests.support.sampled_release import FIELDS, released_dev
from tests.support.samples import write_samples
from tests.support.servers import free_port

pytestmark = pytest.mark.skipif(
    pushgateway.binary() is None, reason="needs prometheus-pushgateway: make monitoring-tools"
)

JOB = "mlops_monitor"


@pytest.fixture(autouse=True)
def taxi_sample(environments: Path) -> Iterator[None]:
    """The samples are taxi rows: the taxi sample is the project (its pinned schema, drift
    thresholds, roles and config values), whatever `mlops init` made of this one."""
    with project.taxi_sample(environments):
        yield


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[pushgateway.Pushgateway]:
    server = pushgateway.start(tmp_path / "pushgateway")
    yield server
    server.stop()


def _world(tmp_path: Path, environments: Path, url: str) -> tuple[Path, Path, Path]:
    return released_dev(tmp_path, environments, {"pushgateway": {"url": url}})


def _monitor(environments: Path, data: Path, work: Path, capsys) -> tuple[int, str]:
    args = ["--environments", str(environments), "monitor", "--env", "dev"]
    code = cli.main([*args, "--data", str(data), "--output", str(work)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _series(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name + "{")]


@pytest.mark.slow
def test_monitor_pushes_its_figures_grouped_by_environment_and_model(
    gateway, tmp_path, environments, capsys
) -> None:
    environments, data, store = _world(tmp_path, environments, gateway.url)
    # Another environment's group, pushed first, must survive dev's push; dev's own earlier
    # drift series must not (a PUT replaces the group: a window too small to measure clears it).
    for env, text in (
        ("staging", f'{M.SAMPLES}{{environment="staging",model_name="{MODEL}"}} 900'),
        ("dev", f'{M.DRIFT}{{environment="dev",model_name="{MODEL}",feature="fare"}} 0.5'),
    ):
        metrics_push.push(
            f"# TYPE {text.split('{')[0]} gauge\n{text}\n",
            base=gateway.url,
            job=JOB,
            labels={"environment": env, "model_name": MODEL},
            timeout=5,
            key="test",
            figures="-",
        )
    assert _series(gateway.metrics(), M.DRIFT)
    write_samples(store, D.benign(D.read(), 50, seed=7), FIELDS, tmp_path / "rows")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    group = f"{gateway.url}/metrics/job/{JOB}/environment/dev/model_name/{MODEL}"
    assert f"Pushed the figures to {group}" in out
    samples = _series(gateway.metrics(), M.SAMPLES)
    assert (
        f'{M.SAMPLES}{{environment="dev",instance="",job="{JOB}",model_name="{MODEL}"}} 50'
        in samples
    ), samples
    assert (
        f'{M.SAMPLES}{{environment="staging",instance="",job="{JOB}",model_name="{MODEL}"}} 900'
        in samples
    ), samples
    assert _series(gateway.metrics(), M.DRIFT) == []
    # A second push replaces dev's group (a PUT), and still leaves staging's alone.
    write_samples(store, D.benign(D.read(), 30, seed=8), FIELDS, tmp_path / "more")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    samples = _series(gateway.metrics(), M.SAMPLES)
    assert [s.rsplit(" ", 1)[1] for s in samples if 'environment="dev"' in s] == ["80"]
    assert any('environment="staging"' in s for s in samples), samples


def test_a_push_nobody_answers_exits_3_naming_key_and_url_and_keeps_the_figures(
    tmp_path, environments, capsys
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    environments, data, store = _world(tmp_path, environments, url)
    write_samples(store, D.benign(D.read(), 50, seed=7), FIELDS, tmp_path / "rows")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 3, out
    assert "monitoring.pushgateway.url" in out and f"{url}/metrics/job/{JOB}/" in out, out
    assert "dev/config.yaml" in out and "Traceback" not in out, out
    figures = tmp_path / "work" / "monitor" / M.METRICS_FILE
    assert f'{M.SAMPLES}{{environment="dev",model_name="{MODEL}"}} 50' in figures.read_text()
    assert "serving drift SKIPPED (50 sampled rows" in out  # measured and said before the push


@pytest.mark.slow
def test_a_push_the_gateway_refuses_exits_3_with_its_status(
    gateway, tmp_path, environments, capsys
) -> None:
    environments, data, store = _world(tmp_path, environments, gateway.url + "/no/such/prefix")
    write_samples(store, D.benign(D.read(), 50, seed=7), FIELDS, tmp_path / "rows")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 3 and "refused the push" in out and "HTTP 404" in out, out
    assert (tmp_path / "work" / "monitor" / M.METRICS_FILE).exists()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("url", "pushgateway:9091", "a string matching"),
        ("url", "ftp://pushgateway:9091", "a string matching"),
        ("url", "http://pushgateway:9091/?x=1", "a string matching"),
        ("job", "serving/drift", "a string matching"),
        ("timeout_seconds", 0.0, "must be > 0.0"),
    ],
)
def test_a_bad_pushgateway_setting_exits_2_naming_file_key_and_value(
    tmp_path, environments, capsys, key, value, expected
) -> None:
    environments, data, _ = released_dev(tmp_path, environments, {"pushgateway": {key: value}})
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 2, out
    assert "dev/config.yaml" in out and f"monitoring.pushgateway.{key}" in out, out
    assert str(value) in out and expected in out, out


@pytest.mark.slow
@pytest.mark.skipif(
    prometheus_server.binary() is None, reason="needs prometheus: make monitoring-tools"
)
def test_prometheus_fires_serving_drift_high_on_the_pushed_series_of_shifted_samples_only(
    gateway, tmp_path, environments, capsys
) -> None:
    environments, data, store = _world(tmp_path, environments, gateway.url)
    cfg = config.load("dev", environments)
    rule = yaml.safe_load(alerts.render(cfg, app_name(cfg), "7", {}))  # what `mlops render` writes
    # As the docs say to scrape it, and (to show the alert does not depend on it) without
    # honor_labels, where the pushed job becomes exported_job and instance the gateway's address.
    scrapes = [
        {
            "job_name": name,
            "honor_labels": honor,
            "static_configs": [{"targets": [gateway.address]}],
        }
        for name, honor in (("pushgateway", True), ("pushgateway-plain", False))
    ]
    prometheus = prometheus_server.start(
        tmp_path / "prometheus", scrapes, rule_groups=rule["spec"]["groups"]
    )
    try:
        # Normal traffic: pushed, scraped, several evaluations later no alert.
        write_samples(store, D.benign(D.read(), 1000, seed=7), FIELDS, tmp_path / "normal")
        code, out = _monitor(environments, data, tmp_path / "work", capsys)
        assert code == 0 and "serving drift PASS" in out, out
        pushed = prometheus.wait_for(f'{M.DRIFT}{{job="{JOB}",feature="fare"}}')
        assert pushed[0]["metric"]["environment"] == "dev", pushed  # honor_labels kept them
        time.sleep(4)  # four rule evaluations on the pushed series
        assert prometheus.query('ALERTS{alertname="ServingDriftHigh"}') == []
        # Fares x1.5 (the newest 1000 samples): the next push replaces the group, and the
        # alert fires for fare only.
        shifted = D.scaled(D.benign(D.read(), 1000, seed=7), "fare")
        write_samples(store, shifted, FIELDS, tmp_path / "shifted")
        code, out = _monitor(environments, data, tmp_path / "work", capsys)
        assert code == 0 and "serving drift WARN" in out, out
        # Each scrape job's series fires on its own evaluation: wait for both before reading.
        alert = 'ALERTS{alertname="ServingDriftHigh",alertstate="firing"'
        for job in (JOB, "pushgateway-plain"):
            prometheus.wait_for(f'{alert},job="{job}"}}')
        firing = prometheus.query(alert + "}")
        labels = [a["metric"] for a in firing]
        assert {x["feature"] for x in labels} == {"fare"}, labels
        assert all(x["environment"] == "dev" and x["model_name"] == MODEL for x in labels)
        # honor_labels: the pushed job, and no instance (the Pushgateway's empty one).
        assert [x for x in labels if x["job"] == JOB and "instance" not in x], labels
        plain = [x for x in labels if x["job"] == "pushgateway-plain"]
        assert plain and all(x["exported_job"] == JOB for x in plain), labels
        assert all(x["instance"] == gateway.address for x in plain), labels
    finally:
        prometheus.stop()
