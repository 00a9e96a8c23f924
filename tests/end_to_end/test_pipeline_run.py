"""The whole pipeline through the `mlops` command, on a sample of the bundled data.

A cold run must bless and push. Every other test starts from that run's output exactly as it was
when the run ended (its own copy, restored before the test), then changes one thing: nothing
(all cached, nothing new pushed), a stricter floor, a planted trainer fault (NaN, a weaker model
against the released baseline), or a broken CSV that must stop at the data gate. So the order and
selection of tests (`-k`) do not change what any of them sees.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core import config
from core.paths import REPO_ROOT
from store.model_store import versions
from tests.support.repo import copy_environments, strict_json, update_overlay, write_sample

pytestmark = pytest.mark.slow

MODEL_STORE = Path("model_store") / "taxi_tips"


_HERMETIC: list[Path] = []  # a copy of environments/ without release records, per module


@pytest.fixture(scope="module", autouse=True)
def _hermetic_environments(tmp_path_factory: pytest.TempPathFactory):
    """Runs read the copy, so a release left by `make demo` in environments/dev is never the
    Evaluator's baseline here (the baseline is the environment's released model)."""
    _HERMETIC[:] = [copy_environments(tmp_path_factory.mktemp("hermetic"))]
    yield
    _HERMETIC.clear()


def _with_environments(args: tuple[str, ...]) -> tuple[str, ...]:
    return (
        args
        if "--environments" in args or not _HERMETIC
        else ("--environments", str(_HERMETIC[0]), *args)
    )


def mlops(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops.cli", *_with_environments(args)],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_sample(tmp_path_factory.mktemp("data"), rows=3000)


FAULTS = Path(__file__).with_name("faults")


def run_with_trainer(fault: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`mlops` with the Trainer's module replaced by tests/end_to_end/faults/<fault>."""
    return subprocess.run(
        [sys.executable, str(FAULTS / "run_with_trainer.py"), fault, *_with_environments(args)],
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def cold_run(tmp_path_factory: pytest.TempPathFactory, sample: Path):
    """The one cold run of the module, and a snapshot of its output taken right after it."""
    out = tmp_path_factory.mktemp("run")
    result = mlops("run", "--env", "dev", "--data", str(sample), "--output", str(out))
    snapshot = tmp_path_factory.mktemp("snapshot") / "run"
    shutil.copytree(out, snapshot, symlinks=True)
    return out, snapshot, result


@pytest.fixture
def first_run(cold_run):
    """The cold run's output as the run left it, whatever earlier tests did to it.

    ML Metadata records artifacts by absolute path, so the snapshot is restored in place rather
    than copied elsewhere: a re-run in it finds every cached artifact where the first run put it.
    """
    out, snapshot, result = cold_run
    shutil.rmtree(out)
    shutil.copytree(snapshot, out, symlinks=True)
    return out, result


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


def test_a_refused_span_left_as_an_empty_folder_is_warned_about_and_publishes_nothing(
    first_run, sample: Path
) -> None:
    """Planted: a header-only span 2 (refused), then its CSV removed and the empty span-2/ left
    behind. The window is span 1 again, exactly the data the first run trained on: the run
    warns about the folder, reuses Transform and Trainer from cache (span 1's re-ingestion in
    the refused run is the same content), publishes no new version, and names the run that
    trained the model. The cold run also shows one-class slices' AUC as undefined, not 0."""
    out, first = first_run
    assert first.returncode == 0
    cold = strict_json(out / "run_summary.json")
    undefined = [r for r in cold["slices"] if r["metrics"]["auc"] is None]
    # The sample's No Charge trips (n=9) carry no tips: one class, so no AUC.
    assert "payment_type=No Charge" in [r["slice"] for r in undefined]
    for row in undefined:
        assert row["undefined"]["auc"] == "one class"
        shown = re.search(rf"{re.escape(row['slice'])}\s+(.+?)\s+\(n=\d+\)", first.stdout)
        assert shown and shown.group(1) == "undefined (one class)", first.stdout
    assert not any(r["metrics"]["auc"] == 0.0 for r in cold["slices"])
    before = versions(out / MODEL_STORE)
    span = sample / "span-2"
    header = (sample / "span-1" / "data.csv").read_text().splitlines()[0]
    try:
        span.mkdir()
        (span / "data.csv").write_text(header + "\n")
        refused = mlops("run", "--env", "dev", "--data", str(sample), "--output", str(out))
        assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
        assert "stopped" in refused.stderr and versions(out / MODEL_STORE) == before
        (span / "data.csv").unlink()
        result = mlops("run", "--env", "dev", "--data", str(sample), "--output", str(out))
    finally:
        shutil.rmtree(span, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Warning: span folder {span} holds no file matching" in result.stdout
    summary = strict_json(out / "run_summary.json")
    statuses = {c["id"]: c["status"] for c in summary["components"]}
    assert statuses["Transform"] == statuses["Trainer"] == "cached", statuses
    assert "Pushed: nothing new" in result.stdout
    assert versions(out / MODEL_STORE) == before and summary["new_version"] is False
    assert summary["pipeline_run"] == cold["pipeline_run"] != summary["current_run"]
    assert summary["warnings"] and "span 2 is not part of this run" in summary["warnings"][0]


def test_promote_to_dev_records_the_pushed_model(first_run, environments: Path) -> None:
    """What `make demo` ends with: the pushed model becomes dev's release, with its metrics."""
    import yaml

    out, first = first_run
    assert first.returncode == 0
    result = mlops(
        "--environments", str(environments), "promote", "--to", "dev", "--output", str(out)
    )
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


def test_a_model_below_the_floor_is_not_blessed_and_not_pushed(
    first_run, sample: Path, environments: Path
) -> None:
    """Same data and model, stricter environment: only evaluation and push run again."""
    out, first = first_run
    assert first.returncode == 0
    before = versions(out / MODEL_STORE)
    overlay = environments / "dev" / "config.yaml"
    overlay.write_text(overlay.read_text() + "evaluation:\n  lower_bound: 0.999\n")
    result = mlops(
        "--environments",
        str(environments),
        "run",
        "--env",
        "dev",
        "--data",
        str(sample),
        "--output",
        str(out),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "Model validation: NOT BLESSED, because:" in result.stdout
    assert re.search(
        r"auc on overall is 0\.\d+, below the floor 0\.999 "
        r"\(evaluation\.lower_bound\)",
        result.stdout,
    )
    assert "Pushed: nothing (the model was not blessed)" in result.stdout
    assert "model validation failed" in result.stderr
    assert versions(out / MODEL_STORE) == before
    summary = strict_json(out / "run_summary.json")
    statuses = {c["id"]: c["status"] for c in summary["components"]}
    assert statuses["Trainer"] == "cached" and statuses["Evaluator"] == "ran"


def test_a_regression_against_the_released_model_is_not_blessed(
    first_run, sample: Path, tmp_path: Path, ci_report
) -> None:
    """Planted fault: a trainer blind to the payment type (faults/blind_trainer.py). The first
    run's model is released to dev; the blind candidate falls far more than
    evaluation.max_regression below that baseline, so it is not blessed and nothing is pushed.
    The floor is moved out of the way (below chance) so that it is cleared and the regression
    rule alone must refuse the model."""
    import yaml

    out, first = first_run
    assert first.returncode == 0
    environments = copy_environments(tmp_path)
    promoted = mlops(
        "--environments", str(environments), "promote", "--to", "dev", "--output", str(out)
    )
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    release_file = environments / "dev" / "release.yaml"
    release = release_file.read_text()
    released_auc = yaml.safe_load(release)["current"]["metrics"]["auc"]
    floor = 0.4
    update_overlay(environments, "dev", {"evaluation": {"lower_bound": floor}})
    before = versions(out / MODEL_STORE)

    result = run_with_trainer(
        "blind_trainer.py",
        "--environments",
        str(environments),
        "run",
        "--env",
        "dev",
        "--data",
        str(sample),
        "--output",
        str(out),
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    summary = strict_json(out / "run_summary.json")
    candidate = summary["overall"]["metrics"]["auc"]
    baseline = summary["overall"]["baseline"]["auc"]
    ci_report(
        "regression gate (end to end)",
        f"released auc {released_auc:.4f}, baseline in the run {baseline:.4f}, weaker "
        f"candidate {candidate:.4f}, floor {floor}, allowed change -0.01",
    )
    assert summary["has_baseline"] is True
    assert baseline == pytest.approx(released_auc, abs=1e-4)  # the released model's figure
    assert floor <= candidate < baseline - 0.01, (candidate, baseline)
    assert "Model validation: NOT BLESSED, because:" in result.stdout
    reason = re.search(
        r"auc on overall changed by (-0\.\d{4}) against the baseline; the "
        r"environment allows at most -0\.0100 \(evaluation\.max_regression\)",
        result.stdout,
    )
    assert reason, result.stdout
    assert float(reason.group(1)) == pytest.approx(candidate - baseline, abs=2e-4)
    assert summary["blessing_failures"] == [
        line.strip()[2:] for line in result.stdout.splitlines() if line.startswith("  - ")
    ]
    assert len(summary["blessing_failures"]) == 1  # the floor was cleared
    assert "Pushed: nothing (the model was not blessed)" in result.stdout
    assert "model validation failed" in result.stderr
    assert versions(out / MODEL_STORE) == before
    assert summary["pushed"] is False and summary["blessed"] is False
    assert release_file.read_text() == release


def test_a_diverging_trainer_fails_the_run_and_pushes_nothing(first_run, sample: Path) -> None:
    """Planted fault: the real Trainer fed an infinite feature. The NaN guards (TerminateOnNaN
    on the loss, then the finite check on the weights) stop it, the run says NaN was detected,
    and the model store is untouched."""
    out, first = first_run
    assert first.returncode == 0
    before = versions(out / MODEL_STORE)
    result = run_with_trainer(
        "poisoned_trainer.py", "run", "--env", "dev", "--data", str(sample), "--output", str(out)
    )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    assert re.search(
        r"stopped: NaN detected: (training loss became|weights .* are not finite)", result.stderr
    ), result.stderr
    assert "no model was exported" in result.stderr
    assert versions(out / MODEL_STORE) == before


def _break_csv(
    src: Path, dest: Path, drop: str | None = None, poison: tuple[str, str] | None = None
) -> Path:
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


@pytest.mark.parametrize(
    ("drop", "poison", "feature", "kind"),
    [
        ("payment_type", None, "payment_type", "SCHEMA_MISSING_COLUMN"),
        (None, ("trip_miles", "far"), "trip_miles", "UNEXPECTED_DATA_TYPE"),
    ],
)
def test_schema_violation_stops_at_the_data_gate(
    tmp_path: Path, sample: Path, drop, poison, feature: str, kind: str
) -> None:
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
    # The run report shows the stop and the feature.
    page = (out / "report.html").read_text()
    assert "STOPPED" in page and "data validation failed" in page
    gate = page.split('<section id="data-gate">', 1)[1].split("</section>", 1)[0]
    assert '<span class="FAIL">FAIL</span>' in gate and f"<td>{feature}</td>" in gate
    assert kind in gate


SCREENSHOT = REPO_ROOT / "build" / "test-reports" / "run-report.png"


def test_the_run_report_opens_in_a_browser(first_run) -> None:
    """The cold run's report in headless Chromium at a phone's width: it loads with no console
    error and no request but its own file, every section is there, the evaluation chart shows
    exactly the slices of the features evaluation.slices names, and a slice whose AUC is
    undefined reads as undefined."""
    from report.page import SECTIONS
    from tests.support.browser import Browser, chromium

    if chromium() is None:
        pytest.fail("no Chromium on PATH: run `make browser-tools` (make test does)")
    out, result = first_run
    report = out / "report.html"
    assert f"Report: {report}" in result.stdout
    summary = strict_json(out / "run_summary.json")
    with Browser() as browser:
        page = browser.open(report.resolve().as_uri())
        sections = page.evaluate("[...document.querySelectorAll('section')].map(s => s.id)")
        labels = page.evaluate(
            "[...document.querySelectorAll('#slice-chart svg text')].map(t => t.textContent)"
        )
        empty = page.evaluate(
            "[...document.querySelectorAll('section')].filter(s => "
            "s.innerText.replace(s.querySelector('h2').innerText, '').trim() === '').map(s => s.id)"
        )
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        undefined_cells = page.evaluate(
            "[...document.querySelectorAll('#evaluation tr')].map(r => [...r.cells].map("
            "c => c.innerText)).filter(c => c.length && c[1] && c[1].startsWith('undefined'))"
        )
        page.screenshot(SCREENSHOT)
    assert page.console_errors == []
    assert page.requests == [report.resolve().as_uri()], page.requests
    assert sections == list(SECTIONS) and empty == []
    assert widths[0] <= widths[1], f"wider than a phone's screen: {widths}"
    slices = [label for label in labels if "=" in label]
    assert slices == [row["slice"] for row in summary["slices"]]
    assert {s.split("=", 1)[0] for s in slices} == set(config.load("dev").evaluation.slices)
    undefined = [row for row in summary["slices"] if row["undefined"].get("auc")]
    assert undefined, "the sample has a one-class slice (payment_type=Cash or a rare value)"
    assert labels.count("undefined (one class)") == len(undefined)
    shown = {cells[0]: cells[1] for cells in undefined_cells}
    for row in undefined:
        assert shown[row["slice"]] == f"undefined ({row['undefined']['auc']})"
    assert SCREENSHOT.stat().st_size > 10_000
