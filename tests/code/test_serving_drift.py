"""`mlops monitor` on planted samples: normal traffic measures no drift and leaves the alert
quiet; fares x1.5 are named per feature, fire ServingDriftHigh on the exported series (promtool),
and make `mlops ct check` answer "retrain" with that reason. Bad stores are clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core import config
from delivery import alerts
from delivery.manifests import app_name
from mlops import cli
from pipeline import serving_drift as M
from store import request_log as L
from store.request_log import Publisher
from tests.support import ct_data as D
from tests.support import project, promtool
from tests.support.project import MODEL
from tests.support.repo import update_overlay
from tests.support.sampled_release import FIELDS, released_dev
from tests.support.samples import registry_store, write_samples
from tools.local_registry import Registry


@pytest.fixture(autouse=True)
def taxi_sample(environments: Path) -> Iterator[None]:
    """The samples are taxi rows: the taxi sample is the project (its pinned schema, drift
    thresholds, roles and config values), whatever `mlops init` made of this one."""
    with project.taxi_sample(environments):
        yield


@pytest.fixture
def world(tmp_path: Path, environments: Path) -> tuple[Path, Path, Path]:
    """dev released on planted spans 1-2, sampling into a store of its own."""
    return released_dev(tmp_path, environments)


def _monitor(environments: Path, data: Path, work: Path, capsys) -> tuple[int, str]:
    args = ["--environments", str(environments), "monitor", "--env", "dev"]
    code = cli.main([*args, "--data", str(data), "--output", str(work)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _ct_check(environments: Path, data: Path, work: Path, capsys) -> tuple[int, str]:
    code = cli.main(
        [
            "--environments",
            str(environments),
            "ct",
            "check",
            "--env",
            "dev",
            "--data",
            str(data),
            "--output",
            str(work),
        ]
    )
    return code, capsys.readouterr().out


def _alert_fires(environments: Path, prom: Path, tmp: Path) -> set[str]:
    """Features ServingDriftHigh fires for, on the exported series held for 10 minutes."""
    cfg = config.load("dev", environments)
    series = []
    for line in prom.read_text().splitlines():
        if line.startswith((alerts.DRIFT + "{", alerts.DRIFT_THRESHOLD + "{")):
            name, value = line.rsplit(" ", 1)
            series.append({"series": name, "values": f"{value}x10"})
    rule = next(
        r
        for g in alerts.rule_groups(cfg, app_name(cfg), "7")
        for r in g["rules"]
        if r.get("alert") == "ServingDriftHigh"
    )
    fired = set()
    for line in prom.read_text().splitlines():
        if not line.startswith(alerts.DRIFT + "{"):
            continue
        labels = dict(
            part.split("=", 1) for part in line[len(alerts.DRIFT) + 1 : line.index("}")].split(",")
        )
        labels = {k: v.strip('"') for k, v in labels.items()}
        expected = {**labels, **rule["labels"]}
        annotations = {
            k: v.replace("{{ $labels.feature }}", labels["feature"]).replace(
                "{{ $labels.measure }}", labels["measure"]
            )
            for k, v in rule["annotations"].items()
        }
        test = {
            "input_series": series,
            "alert_rule_test": [
                {
                    "eval_time": "5m",
                    "alertname": "ServingDriftHigh",
                    "exp_alerts": [{"exp_labels": expected, "exp_annotations": annotations}],
                }
            ],
        }
        case = tmp / f"{labels['feature']}-{labels['measure']}"
        case.mkdir()
        groups = alerts.rule_groups(cfg, app_name(cfg), "7")
        if promtool.test_rules(groups, [test], case).returncode == 0:
            fired.add(labels["feature"])
    return fired


def test_normal_traffic_no_drift_and_no_alert(world, tmp_path, capsys) -> None:
    environments, data, store = world
    write_samples(store, D.benign(D.read(), 1000, seed=7), FIELDS, tmp_path / "rows")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    assert "serving drift PASS (1000 sampled rows, 0 malformed lines skipped)" in out
    report = json.loads((tmp_path / "work" / "monitor" / M.REPORT_JSON).read_text())
    assert report["verdict"] == "PASS" and report["release_version"] == "7"
    assert {m["feature"] for m in report["measures"]} >= {"fare", "company"}
    assert "trip_start_hour" in {m["feature"] for m in report["measures"]}
    prom = tmp_path / "work" / "monitor" / M.METRICS_FILE
    assert _alert_fires(environments, prom, tmp_path) == set()
    code, out = _ct_check(environments, data, tmp_path / "work", capsys)
    assert code == 4 and "serving drift" not in out, out


def test_fares_x1_5_are_named_fire_the_alert_and_make_ct_retrain(world, tmp_path, capsys) -> None:
    environments, data, store = world
    write_samples(store, D.scaled(D.benign(D.read(), 1000, seed=7), "fare"), FIELDS, tmp_path / "r")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    assert "serving drift WARN" in out and "  - fare: jensen_shannon " in out
    prom = tmp_path / "work" / "monitor" / M.METRICS_FILE
    assert (
        f'mlops_serving_release_info{{environment="dev",model_name="{MODEL}",version="7"}} 1'
        in prom.read_text()
    )
    assert _alert_fires(environments, prom, tmp_path) == {"fare"}
    report = json.loads((tmp_path / "work" / "monitor" / M.REPORT_JSON).read_text())
    skewed = {(s["feature"], s["comparator"]) for s in report["skew"]}
    assert ("fare", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH") in skewed  # the schema's 0.1
    assert f'mlops_serving_skew_anomaly{{environment="dev",model_name="{MODEL}",feature="fare"' in (
        prom.read_text()
    )
    code, out = _ct_check(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    assert "dev: retrain" in out
    assert (
        "serving drift in 1000 sampled requests against the training spans 1-2: fare: "
        "jensen_shannon" in out
    )


def test_a_report_of_another_release_is_no_reason(world, tmp_path, capsys) -> None:
    environments, data, store = world
    write_samples(store, D.scaled(D.benign(D.read(), 1000, seed=7), "fare"), FIELDS, tmp_path / "r")
    assert _monitor(environments, data, tmp_path / "work", capsys)[0] == 0
    record = environments / "dev" / "release.yaml"
    written = yaml.safe_load(record.read_text())
    written["current"]["version"] = 8
    record.write_text(yaml.safe_dump(written))
    code, out = _ct_check(environments, data, tmp_path / "work", capsys)
    assert code == 4 and "serving drift not used" in out, out


def test_too_few_samples_and_malformed_lines_are_said_not_fatal(world, tmp_path, capsys) -> None:
    environments, data, store = world
    write_samples(store, D.benign(D.read(), 50, seed=7), FIELDS, tmp_path / "rows")
    with (store / "requests.jsonl").open("a") as f:
        f.write("{broken\n")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    assert "serving drift SKIPPED (50 sampled rows, 1 malformed lines skipped)" in out
    assert "below monitoring.request_log.min_rows 200" in out and "requests.jsonl:51" in out


def test_a_missing_or_unreadable_store_exits_2_without_traceback(world, tmp_path, capsys) -> None:
    environments, data, store = world
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 2 and "no such folder" in out and "Traceback" not in out
    store.mkdir()
    (store / "requests.jsonl").write_bytes(b"\xff\xfe")
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 2 and "unreadable" in out and "Traceback" not in out


def _use_store(environments: Path, store: str) -> None:
    update_overlay(environments, "dev", {"monitoring": {"request_log": {"store": store}}})


def _publish(spool: Path, uri: str) -> None:
    """What the logger does with a folder it fills: rotate, then publish every closed file."""
    L.Writer(spool, FIELDS, max_file_bytes=1024 * 1024, max_files=10).rotate()
    assert Publisher(uri, spool, max_files=10).publish_pending() == ""


@pytest.mark.slow
def test_samples_pulled_from_a_registry_store_give_the_folder_figures(
    world, registry: Registry, tmp_path, capsys
) -> None:
    environments, data, store = world
    rows = D.scaled(D.benign(D.read(), 1000, seed=7), "fare")
    write_samples(store, rows[:400], FIELDS, tmp_path / "r1")
    L.Writer(store, FIELDS, max_file_bytes=1024 * 1024, max_files=10).rotate()
    write_samples(store, rows[400:], FIELDS, tmp_path / "r2")
    code, from_folder = _monitor(environments, data, tmp_path / "folder", capsys)
    assert code == 0 and "serving drift WARN (1000 sampled rows" in from_folder, from_folder
    uri = registry_store(registry, "dev/request-log")
    _publish(store, uri)  # two files, as two rotations would have published them
    _use_store(environments, uri)
    code, from_registry = _monitor(environments, data, tmp_path / "registry", capsys)
    assert code == 0, from_registry

    def figures(work: Path) -> tuple[str, int, list[tuple[str, str, float]]]:
        report = json.loads((work / "monitor" / M.REPORT_JSON).read_text())
        measures = [(m["feature"], m["measure"], m["value"]) for m in report["measures"]]
        return report["verdict"], report["samples"], measures

    assert figures(tmp_path / "registry") == figures(tmp_path / "folder")
    said = [
        [line for line in out.splitlines() if not line.startswith("Report: ")]
        for out in (from_registry, from_folder)
    ]
    assert said[0] == said[1] and "  - fare: jensen_shannon " in from_registry, said


@pytest.mark.slow
def test_a_malformed_line_in_a_pulled_file_is_skipped_and_counted(
    world, registry: Registry, tmp_path, capsys
) -> None:
    environments, data, store = world
    write_samples(store, D.benign(D.read(), 50, seed=7), FIELDS, tmp_path / "rows")
    with (store / L.CURRENT).open("a") as f:
        f.write("{broken\n")
    uri = registry_store(registry, "dev/request-log-malformed")
    _publish(store, uri)
    _use_store(environments, uri)
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 0, out
    assert "serving drift SKIPPED (50 sampled rows, 1 malformed lines skipped)" in out, out
    assert f"first: {uri}:requests-" in out and ": not JSON" in out, out


def test_a_registry_store_that_is_down_exits_3_naming_it(world, tmp_path, capsys) -> None:
    environments, data, _ = world
    uri = "oci://127.0.0.1:9/acme/taxi/dev/request-log"
    _use_store(environments, uri)
    code, out = _monitor(environments, data, tmp_path / "work", capsys)
    assert code == 3, out
    assert f"cannot reach the request-log registry 127.0.0.1:9 (ConnectionError) for {uri}" in out
    assert "monitoring.request_log.store" in out and "Traceback" not in out
