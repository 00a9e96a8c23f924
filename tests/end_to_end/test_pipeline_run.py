"""The whole pipeline through the `mlops` command, on a sample of the bundled data.

One module-scoped output directory carries three runs: a cold run that must bless and push, an
unchanged re-run that must reuse every cached result and push nothing new, and (in separate
directories) broken CSVs that must stop at the data gate with the anomaly named and no push.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.model_store import versions

from ..conftest import strict_json, write_sample

pytestmark = pytest.mark.slow

MODEL_STORE = Path("model_store") / "taxi_tips"


def mlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlops.cli", *args], capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("data"), rows=3000)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, sample: Path):
    out = tmp_path_factory.mktemp("run")
    return out, mlops("run", "--env", "dev", "--data", str(sample), "--output", str(out))


def test_cold_run_blesses_and_pushes(first_run) -> None:
    out, result = first_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "Data validation: PASS" in result.stdout
    assert "no baseline" in result.stdout  # the first run says so explicitly
    assert "Model validation: BLESSED" in result.stdout
    pushed = versions(out / MODEL_STORE)
    assert len(pushed) == 1
    assert (out / MODEL_STORE / str(pushed[0]) / "saved_model.pb").exists()
    assert f"Pushed: version {pushed[0]}" in result.stdout
    summary = strict_json(out / "run_summary.json")
    assert summary["blessed"] is True and summary["new_version"] is True
    assert summary["overall"]["metrics"]["auc"] >= 0.8
    assert any(row["slice"].startswith("payment_type=") for row in summary["slices"])
    # Progress was visible while running, one line per component.
    for node in ("CsvExampleGen", "DataGate", "Transform", "Trainer", "Evaluator", "Pusher"):
        assert f"] {node}" in result.stdout or f"{node} (" in result.stdout


def test_unchanged_rerun_is_cached_and_pushes_nothing(first_run, sample: Path) -> None:
    out, first = first_run
    assert first.returncode == 0
    before = versions(out / MODEL_STORE)
    result = mlops("run", "--env", "dev", "--data", str(sample), "--output", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = strict_json(out / "run_summary.json")
    statuses = {c["id"]: c["status"] for c in summary["components"]}
    assert statuses.pop("SpanWindow") == "resolved"
    assert set(statuses.values()) == {"cached"}, statuses
    assert versions(out / MODEL_STORE) == before
    assert summary["new_version"] is False
    assert "Pushed: nothing new" in result.stdout


def test_promote_to_dev_records_the_pushed_model(first_run, environments: Path) -> None:
    """What `make demo` ends with: the pushed model becomes dev's release, with its metrics."""
    import yaml

    out, first = first_run
    assert first.returncode == 0
    result = mlops("--environments", str(environments), "promote", "--to", "dev",
                   "--output", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    record = yaml.safe_load((environments / "dev" / "release.yaml").read_text())["current"]
    summary = strict_json(out / "run_summary.json")
    assert str(record["version"]) == summary["pushed_version"]
    assert record["digest"] == summary["model_digest"]
    assert record["metrics"]["auc"] == pytest.approx(summary["overall"]["metrics"]["auc"])
    assert record["pipeline_run"] == summary["pipeline_run"] != ""
    assert (environments / "dev" / "manifests" / "deployment.yaml").exists()
    status = mlops("--environments", str(environments), "status")
    assert status.returncode == 0 and f"dev      {record['version']}" in status.stdout


def test_a_model_below_the_floor_is_not_blessed_and_not_pushed(first_run, sample: Path,
                                                              environments: Path) -> None:
    """Same data and model, stricter environment: only evaluation and push run again."""
    out, first = first_run
    assert first.returncode == 0
    before = versions(out / MODEL_STORE)
    overlay = environments / "dev" / "config.yaml"
    overlay.write_text(overlay.read_text() + "evaluation:\n  lower_bound: 0.999\n")
    result = mlops("--environments", str(environments), "run", "--env", "dev",
                   "--data", str(sample), "--output", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "Model validation: NOT BLESSED, because:" in result.stdout
    assert re.search(r"auc on overall is 0\.\d+, below the floor 0\.999 "
                     r"\(evaluation\.lower_bound\)", result.stdout)
    assert "Pushed: nothing (the model was not blessed)" in result.stdout
    assert "model validation failed" in result.stderr
    assert versions(out / MODEL_STORE) == before
    summary = strict_json(out / "run_summary.json")
    statuses = {c["id"]: c["status"] for c in summary["components"]}
    assert statuses["Trainer"] == "cached" and statuses["Evaluator"] == "ran"


def test_a_diverging_trainer_fails_the_run_and_pushes_nothing(first_run, sample: Path) -> None:
    """Planted fault: the real Trainer fed an infinite feature. The NaN guards (TerminateOnNaN
    on the loss, then the finite check on the weights) stop it, the run says NaN was detected,
    and the model store is untouched."""
    out, first = first_run
    assert first.returncode == 0
    before = versions(out / MODEL_STORE)
    script = Path(__file__).with_name("faults") / "run_poisoned.py"
    result = subprocess.run([sys.executable, str(script), "run", "--env", "dev", "--data",
                             str(sample), "--output", str(out)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert re.search(r"stopped: NaN detected: (training loss became|weights .* are not finite)",
                     result.stderr), result.stderr
    assert "no model was exported" in result.stderr
    assert versions(out / MODEL_STORE) == before


def _break_csv(src: Path, dest: Path, drop: str | None = None,
               poison: tuple[str, str] | None = None) -> Path:
    with (src / "span-1" / "data.csv").open() as f:
        rows = list(csv.DictReader(f))
    header = [c for c in rows[0] if c != drop]
    path = dest / "span-1" / "data.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        for i, row in enumerate(rows):
            if poison and i % 10 == 0:
                row[poison[0]] = poison[1]
            writer.writerow(row)
    return dest


@pytest.mark.parametrize(("drop", "poison", "feature", "kind"), [
    ("payment_type", None, "payment_type", "SCHEMA_MISSING_COLUMN"),
    (None, ("trip_miles", "far"), "trip_miles", "UNEXPECTED_DATA_TYPE"),
])
def test_schema_violation_stops_at_the_data_gate(tmp_path: Path, sample: Path, drop, poison,
                                                 feature: str, kind: str) -> None:
    data = _break_csv(sample, tmp_path / "data", drop=drop, poison=poison)
    out = tmp_path / "out"
    result = mlops("run", "--env", "dev", "--data", str(data), "--output", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "data validation failed" in result.stderr
    assert feature in result.stderr and kind in result.stderr
    assert "nothing was pushed" in result.stderr
    assert versions(out / MODEL_STORE) == []
    assert not (out / "pipeline" / "Transform").exists()
    assert not (out / "pipeline" / "Trainer").exists()
    report = json.loads((out / "data_validation" / "anomalies.json").read_text())
    assert report["verdict"] == "FAIL"
    assert feature in {a["feature"] for a in report["anomalies"]}
    assert f"Report: {out / 'data_validation'}" in result.stderr
