"""Continuous training through `mlops`: span progression, the drift gate, the window.

One released model (spans 1-2, promoted to dev in a copy of environments/) is the baseline; the
tests plant a third span next to it: a benign resample must retrain on the newest two spans and
push; a drifted one must stop at the drift gate (mode stop) with the features named, the run
summary printed and nothing pushed. An empty span stops at the same gate before Transform.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from store.model_store import versions
from tests.support import ct_data as D
from tests.support.repo import copy_environments, update_overlay

pytestmark = pytest.mark.slow

MODEL_STORE = Path("model_store") / "taxi_tips"
ROWS = 2000


def mlops(environments: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops.cli", "--environments", str(environments), *args],
        capture_output=True,
        text=True,
        timeout=1200,
    )


def _run(environments: Path, data: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return mlops(environments, "run", "--env", "dev", "--data", str(data), "--output", str(out))


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory):
    """Spans 1 and 2 (samples of the bundled spans), trained on, pushed and promoted to dev."""
    root = tmp_path_factory.mktemp("ct")
    data, out = root / "data", root / "out"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), ROWS, seed=number))
    environments = copy_environments(root)
    update_overlay(environments, "dev", {"drift": {"mode": "stop"}})
    first = _run(environments, data, out)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    promoted = mlops(environments, "promote", "--to", "dev", "--output", str(out))
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    return environments, data, out


def _mlmd_inputs(out: Path, node: str) -> dict[str, list]:
    """Input artifacts (by key) of `node`'s execution in the newest run."""
    import ml_metadata as mlmd
    from tfx.orchestration import metadata

    store = mlmd.MetadataStore(
        metadata.sqlite_metadata_connection_config(str(out / "metadata.sqlite"))
    )
    run = max(store.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)
    for execution in store.get_executions_by_context(run.id):
        names = [c.name for c in store.get_contexts_by_execution(execution.id) if c.type == "node"]
        if names != [f"taxi-tips-dev.{node}"]:
            continue
        events = [
            e
            for e in store.get_events_by_execution_ids([execution.id])
            if e.type == mlmd.proto.Event.INPUT
        ]
        by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        inputs: dict[str, list] = {}
        for event in events:
            inputs.setdefault(event.path.steps[0].key, []).append(by_id[event.artifact_id])
        return inputs
    raise AssertionError(f"no {node} execution in the newest run")


def test_the_release_records_its_training_spans(released) -> None:
    environments, data, _ = released
    current = yaml.safe_load((environments / "dev" / "release.yaml").read_text())["current"]
    assert current["spans"] == [1, 2]
    assert Path(current["data_root"]) == data.resolve()


def test_a_benign_new_span_retrains_on_the_newest_two_spans_and_pushes(released) -> None:
    environments, data, out = released
    before = versions(out / MODEL_STORE)
    D.write_span(data, 3, D.benign(D.read(), ROWS, seed=3))
    check = mlops(
        environments, "ct", "check", "--env", "dev", "--data", str(data), "--output", str(out)
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "new span 3 since the released model's training spans 1-2" in check.stdout
    assert "drift" not in check.stdout  # drift.mode is stop here: a false alarm would stop

    result = _run(environments, data, out)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Drift: PASS (span 3 against span(s) 1-2, mode stop" in result.stdout
    assert "Training spans: 2-3 (window of 2); evaluated on span 3" in result.stdout
    assert "Model validation: BLESSED" in result.stdout
    after = versions(out / MODEL_STORE)
    assert len(after) == len(before) + 1
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["spans"] == [2, 3] and summary["eval_span"] == 3
    assert summary["drift"]["verdict"] == "PASS"
    assert json.loads((out / "drift" / "drift.json").read_text())["verdict"] == "PASS"
    # The window, from ML Metadata: Transform read spans 2 and 3 (not 1), and the Trainer read
    # exactly the two transformed outputs of that Transform.
    transform = _mlmd_inputs(out, "Transform")
    spans = sorted(a.custom_properties["span"].int_value for a in transform["examples"])
    assert spans == [2, 3]
    trainer = _mlmd_inputs(out, "Trainer")
    assert len(trainer["examples"]) == 2
    assert all("/Transform/transformed_examples/" in a.uri for a in trainer["examples"])


def test_a_drifted_span_stops_at_the_drift_gate_and_pushes_nothing(released, tmp_path) -> None:
    environments, data, out = released
    before = versions(out / MODEL_STORE)
    drifted_data = tmp_path / "data"
    for number in (1, 2):
        shutil.copytree(data / f"span-{number}", drifted_data / f"span-{number}")
    D.write_span(drifted_data, 3, D.drifted(D.read(), ROWS))
    record = environments / "dev" / "release.yaml"
    record.write_text(record.read_text().replace(str(data.resolve()), str(drifted_data)))

    result = _run(environments, drifted_data, out)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "drift gate (drift.mode=stop): span 3 drifted from span(s) 1, 2" in result.stderr
    for feature, measure in (
        ("fare", "jensen_shannon"),
        ("trip_start_hour", "jensen_shannon"),
        ("company", "l_infinity"),
    ):
        assert f"  {feature}: {measure} " in result.stderr
    assert "nothing was pushed" in result.stderr
    assert "Transform (" not in result.stdout  # stopped before Transform started
    # The run summary, as every stop prints it, with the whole drift table.
    assert "== Run summary: taxi-tips-dev (dev) ==" in result.stdout
    assert "Drift: FAIL (span 3 against span(s) 1-2, mode stop" in result.stdout
    table = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert {r[0] for r in table if r[-1] == "DRIFTED"} == {"fare", "trip_start_hour", "company"}
    assert any(r[:2] == ["big_tipper", "l_infinity"] for r in table), result.stdout
    assert versions(out / MODEL_STORE) == before
    report = json.loads((out / "drift" / "drift.json").read_text())
    assert report["verdict"] == "FAIL"
    assert {d["feature"] for d in report["drifted"]} == {"fare", "trip_start_hour", "company"}
    assert "| company | l_infinity |" in (out / "drift" / "drift.md").read_text()
    # The run report shows the stop and the drifted features.
    page = (out / "report.html").read_text()
    assert "STOPPED" in page and "span 3 drifted from span(s) 1, 2" in page
    drift = page.split('<section id="drift">', 1)[1].split("</section>", 1)[0]
    for feature in ("fare", "trip_start_hour", "company"):
        assert re.search(rf"<td>{feature}</td>(<td>[^<]*</td>){{3}}<td><span[^>]*>DRIFTED", drift)


def test_an_empty_span_stops_before_transform(tmp_path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    D.write_span(data, 1, D.benign(D.bundled_span(1), ROWS))
    D.write_span(data, 2, [])  # header only
    environments = copy_environments(tmp_path)
    result = _run(environments, data, out)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert "no examples in span 2: the drift gate stopped the run before Transform" in result.stderr
    assert "Empty logs" not in result.stdout + result.stderr
    assert "Transform (" not in result.stdout
    assert not (out / "pipeline" / "Transform").exists()
    assert versions(out / MODEL_STORE) == []
