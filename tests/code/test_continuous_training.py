"""Drift measures, the drift thresholds file, and `mlops ct check` on planted spans.

Spans are planted from the taxi sample's data and judged as the taxi sample: its pinned schema,
drift thresholds, label rule and config values (tests/support/project.py `taxi_sample`), so these
stay facts of the code after `mlops init` makes the project someone else's. The released model is a
taxi rule model (tests/support/ct_data.py), recorded in a release.yaml by digest, exactly as
`mlops promote` would. One test holds the project's own drift.yaml to its own features.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest
import yaml
from tensorflow_metadata.proto.v0 import schema_pb2

from components.drift_gate import label_values, load_thresholds
from core.paths import REPO_ROOT
from core.verdicts import Verdict
from ct import drift
from mlops import cli
from models import features as F
from store.model_store import model_digest
from store.rows import load_schema
from tests.support import ct_data as D
from tests.support import project
from tests.support.project import MODEL
from tests.support.repo import update_overlay

TAXI_SCHEMA = project.taxi_schema()
with project.taxi_sample():
    NUMERIC_MODEL_FEATURES = [
        f.name
        for f in TAXI_SCHEMA.feature
        if f.name in F.model_feature_keys() and f.type != schema_pb2.BYTES
    ]
TAXI_LABEL = str(project.TAXI_TASK["LABEL_KEY"])


# Calibration margin: planted shifts measure at least this factor above their threshold, and
# the bundled span 2 against span 1 at least this factor below.
MARGIN = 1.5


@pytest.fixture
def thresholds():
    """The taxi sample's thresholds, with its label rule in force (the drift gate computes the
    label as the Transform does)."""
    with project.taxi_task():
        yield load_thresholds(TAXI_SCHEMA, project.TAXI_DRIFT)


@pytest.fixture(scope="module")
def rule_model(tmp_path_factory) -> Path:
    return D.taxi_rule_model(tmp_path_factory.mktemp("model") / "serving_model")


@pytest.fixture
def taxi(environments):
    """A copy of environments/ with the taxi sample's config values, while the taxi sample is the
    project (its schema, thresholds and feature roles)."""
    with project.taxi_sample(environments):
        yield environments


def _judge(tmp_path: Path, rows: D.Rows, thresholds, **kwargs) -> drift.Verdict:
    current = D.write_span(tmp_path / "data", 9, rows)
    return drift.judge(
        [str(current)],
        [str(p) for p in kwargs.pop("baseline", D.BUNDLED_SPANS)],
        TAXI_SCHEMA,
        thresholds,
        mode=kwargs.pop("mode", "stop"),
        span=9,
        baseline_spans=[1, 2],
        min_examples=kwargs.pop("min_examples", 1000),
        label=label_values,
    )


def _drifted(verdict: drift.Verdict) -> set[tuple[str, str]]:
    return {(d.feature, d.measure) for d in verdict.drifted}


def test_a_resample_of_the_same_data_does_not_drift(tmp_path, thresholds) -> None:
    verdict = _judge(tmp_path, D.benign(D.read(), 2000), thresholds)
    assert verdict.verdict == Verdict.PASS, drift.table(verdict.measures)
    assert {d.feature for d in verdict.measures} == {t.feature for t in thresholds}


def test_the_bundled_span_2_against_span_1_does_not_drift(tmp_path, thresholds) -> None:
    """Real change between the spans (more trips with a recorded distance, cards over cash, other
    months) that the thresholds tolerate; the figures are in models/schema/drift.yaml."""
    verdict = _judge(tmp_path, D.bundled_span(2), thresholds, baseline=D.BUNDLED_SPANS[:1])
    assert verdict.verdict == "PASS", drift.table(verdict.measures)
    # With room to spare: a threshold a hair above the real change would flip on noise. (The
    # categorical thresholds predate this margin: payment_type's real shift is 0.114 of 0.15.)
    close = [
        d
        for d in verdict.measures
        if d.value > d.threshold / MARGIN
        and (d.measure != "l_infinity" or d.feature == F.LABEL_KEY)
    ]
    assert not close, drift.table(close)


def test_every_numeric_feature_the_model_uses_and_the_label_have_a_threshold() -> None:
    """The project's own drift.yaml against its own features (whatever `mlops init` wrote).
    Dates and timestamps (CYCLICAL_PARTS) have none: every new span brings new dates, which
    neither measure can compare with the baseline's. A class label has its `label:` entry (the
    shares of its values); a regression label is a number, measured as a numeric feature."""
    thresholds = load_thresholds(load_schema())
    measured = {t.feature for t in thresholds}
    wanted = set(F.model_feature_keys()) - set(F.CYCLICAL_PARTS)
    assert wanted <= measured, wanted - measured
    labels = [t.feature for t in thresholds if t.label]
    if F.TASK == "regression":
        assert labels == [] and F.LABEL_COLUMN in measured, measured
    else:
        assert labels == [F.LABEL_KEY]


@pytest.mark.parametrize("feature", NUMERIC_MODEL_FEATURES)
def test_a_x1_5_scale_of_any_numeric_feature_is_caught_inside_the_domain(
    tmp_path, thresholds, feature
) -> None:
    from components.data_gate import validate_span

    rows = D.scaled(D.benign(D.read(), 2000, seed=7), feature)
    verdict = _judge(tmp_path, rows, thresholds)
    assert verdict.verdict == "FAIL", drift.table(verdict.measures)
    # That feature alone (a fare scaled alone also moves the fare-based label: allowed).
    assert _drifted(verdict) - {(F.LABEL_KEY, "l_infinity")} == {(feature, "jensen_shannon")}, (
        drift.table(verdict.measures)
    )
    (shifted,) = [d for d in verdict.drifted if d.feature == feature]
    assert shifted.value >= shifted.threshold * MARGIN, shifted.line()
    # The data gate would not see it: every value is inside the schema's domains.
    assert validate_span([str(tmp_path / "data" / "span-9" / "data.csv")], TAXI_SCHEMA) == (
        [],
        2000,
    )


def test_a_shift_of_the_label_base_rate_is_caught_by_its_own_measure(tmp_path, thresholds) -> None:
    rows = D.tippers(D.read(), 0.69, 2000)
    assert sum(D.big_tipper(r) for r in rows) / len(rows) == pytest.approx(0.69, abs=0.005)
    verdict = _judge(tmp_path, rows, thresholds)
    assert _drifted(verdict) == {(F.LABEL_KEY, "l_infinity")}, drift.table(verdict.measures)
    (label,) = verdict.drifted
    assert label.value == pytest.approx(0.69 - 0.225, abs=0.01)


def test_a_change_in_how_often_miles_are_zero_is_measured_apart(tmp_path, thresholds) -> None:
    """Zeros are left out of trip_miles' bins; their share has a threshold of its own."""
    rows = D.benign(D.read(), 2000, seed=9)
    for row in rows[: len(rows) // 2]:
        row["trip_miles"] = "0.0"
    verdict = _judge(tmp_path, rows, thresholds)
    assert ("trip_miles", drift.ZERO_SHARE) in _drifted(verdict), drift.table(verdict.measures)


def test_drift_inside_the_schema_domain_is_named_per_feature(tmp_path, thresholds) -> None:
    from tests.support.tfx_data import validate_rows

    rows = D.drifted(D.read(), 2000)
    verdict = _judge(tmp_path, rows, thresholds)
    assert verdict.verdict == Verdict.FAIL
    named = {d.feature: d for d in verdict.drifted}
    assert set(named) == {"fare", "trip_start_hour", "company"}, drift.table(verdict.measures)
    assert named["fare"].measure == "jensen_shannon" and named["fare"].value > 0.03
    assert named["company"].measure == "l_infinity" and named["company"].value > 0.15
    # The data gate alone would not see it: every value is inside the schema's domains.
    import csv

    from store import rows as R

    with (tmp_path / "data" / "span-9" / "data.csv").open() as f:
        typed = [R.typed_row(r, TAXI_SCHEMA, serving=False) for r in csv.DictReader(f)]
    assert validate_rows(typed[:500], environment="TRAINING", schema=TAXI_SCHEMA) == {}


def test_warn_mode_reports_without_failing(tmp_path, thresholds) -> None:
    verdict = _judge(tmp_path, D.drifted(D.read(), 2000), thresholds, mode="warn")
    assert verdict.verdict == Verdict.WARN and verdict.drifted
    drift.write_report(verdict, tmp_path / "report")
    report = drift.read_report(tmp_path / "report")
    assert report is not None
    assert {d["feature"] for d in report["drifted"]} == {"fare", "trip_start_hour", "company"}
    markdown = (tmp_path / "report" / drift.REPORT_MARKDOWN).read_text()
    assert "| fare | jensen_shannon |" in markdown and "| 0.03 | yes |" in markdown


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (0, "no examples in span 9"),
        (40, "span 9 has 40 examples, below the minimum 1000 (data.min_examples)"),
    ],
)
def test_an_empty_or_tiny_span_fails_the_count(tmp_path, thresholds, rows, message) -> None:
    verdict = _judge(tmp_path, D.benign(D.read(), rows), thresholds)
    assert verdict.verdict == Verdict.FAIL and verdict.note == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "features:\n  fares: {measure: jensen_shannon, threshold: 0.1}\n",
            "drift.yaml: features.fares: no such feature in the schema",
        ),
        (
            "features:\n  company: {measure: jensen_shannon, threshold: 0.1}\n",
            "drift.yaml: features.company.measure: company is categorical (BYTES), so the "
            "measure is 'l_infinity', got 'jensen_shannon'",
        ),
        (
            "features:\n  company: {measure: l_infinity, threshold: 1.5}\n",
            "drift.yaml: features.company.threshold: expected a number in [0, 1], got 1.5",
        ),
        (
            "features:\n  fare: {measure: jensen_shannon, threshold: 0.1, zero_share: 2}\n",
            "drift.yaml: features.fare.zero_share: expected a number in [0, 1], got 2",
        ),
        (
            "features:\n  company: {measure: l_infinity, threshold: 0.1, zero_share: 0.1}\n",
            "drift.yaml: features.company: expected {measure, threshold}, got",
        ),
        (
            "features:\n  fare: {measure: jensen_shannon, threshold: 0.1, clip: [0, 60]}\n",
            "drift.yaml: features.fare: expected {measure, threshold[, zero_share]}, got",
        ),
        (
            "features: {}\nlabel:\n  tips: {measure: l_infinity, threshold: 0.1}\n",
            "drift.yaml: label.tips: the model's label is 'big_tipper'",
        ),
        (
            "features: {}\nlabels: {}\n",
            "drift.yaml: unknown section(s) labels (known: features, label)",
        ),
    ],
)
def test_a_bad_thresholds_file_names_feature_and_field(text, message) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        drift.parse_thresholds(text, TAXI_SCHEMA, "models/schema/drift.yaml", TAXI_LABEL)
    assert message in str(info.value)


def test_a_run_stopped_by_the_drift_gate_prints_the_summary_with_the_drift_table(
    tmp_path, thresholds, monkeypatch
) -> None:
    """The runner's stop path: report kept, summary printed with every measure, error raised."""
    import io

    from core import config
    from pipeline import runner
    from pipeline.reports import drift_report_dir
    from pipeline.summary import RunSummary

    verdict = _judge(tmp_path, D.drifted(D.read(), 2000), thresholds)
    cfg = config.load("dev", output_root=str(tmp_path / "out"))
    summary = RunSummary(cfg.name, cfg.pipeline_name, [], "PASS", [])
    step = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    out = io.StringIO()
    with pytest.raises(drift.DriftError) as caught:
        runner._stop(
            cfg, drift.DriftError("drift gate (drift.mode=stop): ...", verdict), summary, out
        )
    shown = out.getvalue()
    assert f"== Run summary: {config.load('dev').pipeline_name} (dev) ==" in shown
    assert "Drift: FAIL (span 9 against span(s) 1-2, mode stop, 2000 examples)" in shown
    measures = {"jensen_shannon", "l_infinity", drift.ZERO_SHARE}
    rows = [line.split() for line in shown.splitlines() if line.startswith("  ")]
    table = {(r[0], r[1]): r for r in rows if len(r) >= 4 and r[1] in measures}
    assert len(table) == len(verdict.measures), shown  # every measure, not only the drifted
    assert {k[0] for k, r in table.items() if r[-1] == "DRIFTED"} == {
        "fare",
        "trip_start_hour",
        "company",
    }
    assert "Drift: FAIL" in step.read_text()
    assert f"Report: {drift_report_dir(cfg)}" in str(caught.value)
    report = drift.read_report(drift_report_dir(cfg))
    assert report is not None and report["verdict"] == "FAIL"


# --- mlops ct check -------------------------------------------------------------------------


def _release(
    environments: Path, model_dir: Path, data_root: Path, *, spans: list[int], age_days: float = 0.0
) -> None:
    at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=age_days)
    current = {
        "model_name": MODEL,
        "version": 1,
        "digest": model_digest(model_dir),
        "uri": str(model_dir),
        "promoted_from": "pipeline",
        "promoted_at": at.isoformat(timespec="seconds"),
        "spans": spans,
        "data_root": str(data_root),
    }
    (environments / "dev" / "release.yaml").write_text(
        yaml.safe_dump({"environment": "dev", "current": current, "history": []})
    )


@pytest.fixture
def released(tmp_path, taxi, rule_model):
    """dev's release: the taxi rule model, on bundled spans 1 and 2 (samples), released now."""
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), 1500, seed=number))
    _release(taxi, rule_model, data, spans=[1, 2])
    return taxi, data


def _run_check(
    environments: Path, data: Path, tmp_path: Path, monkeypatch, capsys
) -> tuple[int, str, str, Path, Path]:
    out, summary = tmp_path / "github_output", tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
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
            str(tmp_path / "work"),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err, out, summary


def _check(
    environments: Path, data: Path, tmp_path: Path, monkeypatch, capsys
) -> tuple[int, str, str, str]:
    code, stdout, _, out, summary = _run_check(environments, data, tmp_path, monkeypatch, capsys)
    return code, stdout, out.read_text(), summary.read_text()


def test_no_new_span_no_drift_fresh_release_means_no_retrain(
    released, tmp_path, monkeypatch, capsys
) -> None:
    environments, data = released
    code, stdout, output, summary = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == cli.NO_RETRAIN == 4, stdout
    assert "dev: no retrain" in stdout
    assert output == "retrain=false\nreasons=\n"
    assert "no retrain needed" in summary


def test_paths_recorded_relative_to_the_repository_are_read_from_it(
    released, tmp_path, monkeypatch, capsys, rule_model
) -> None:
    """Promotion records local paths relative to the repository; the check resolves them there,
    so the same data root written two ways is still the same data root."""
    environments, data = released
    record = environments / "dev" / "release.yaml"
    written = yaml.safe_load(record.read_text())
    written["current"]["uri"] = os.path.relpath(rule_model, REPO_ROOT)
    written["current"]["data_root"] = os.path.relpath(data, REPO_ROOT)
    record.write_text(yaml.safe_dump(written))
    code, stdout, _, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == cli.NO_RETRAIN, stdout
    assert "newer than the released model's training spans 1-2" in stdout  # same data root


def test_decay_is_never_scored_on_a_span_the_model_was_trained_on(
    released, tmp_path, monkeypatch, capsys
) -> None:
    """Spans 1-2 are the release's training data: a score there says nothing about decay."""
    environments, data = released
    code, stdout, _, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 4, stdout
    assert "auc on span" not in stdout
    assert (
        "note: decay not measured: no labelled span under "
        f"{released[1]} that is newer than the released model's training spans 1-2" in stdout
    )


def test_a_new_benign_span_is_one_reason(released, tmp_path, monkeypatch, capsys) -> None:
    environments, data = released
    D.write_span(data, 3, D.benign(D.read(), 1500, seed=3))
    code, stdout, output, summary = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 0, stdout
    assert "  - new span 3 since the released model's training spans 1-2" in stdout
    assert "drift" not in stdout
    assert "note: released model's auc on span 3: 0." in stdout  # scored on the unseen span
    assert output == (
        "retrain=true\nreasons=new span 3 since the released model's training spans 1-2\n"
    )
    assert "- new span 3 since the released model's training spans 1-2" in summary


def test_drift_is_one_reason_per_feature(released, tmp_path, monkeypatch, capsys) -> None:
    environments, data = released
    D.write_span(data, 3, D.drifted(D.read(), 1500))
    code, stdout, output, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 0
    drift_lines = [line for line in stdout.splitlines() if "drift in span 3" in line]
    assert len(drift_lines) == 3, stdout
    for feature, measure in (
        ("fare", "jensen_shannon"),
        ("trip_start_hour", "jensen_shannon"),
        ("company", "l_infinity"),
    ):
        assert any(
            f"{feature}: {measure} " in line and "> threshold" in line for line in drift_lines
        ), stdout
    assert output.startswith("retrain=true\nreasons=new span 3") and output.count("; ") == 3


def test_a_copy_of_the_data_elsewhere_is_compared_by_content(
    released, tmp_path, monkeypatch, capsys
) -> None:
    """`--data COPY`: spans 1-2 of the copy are the release's training spans by content, so the
    drifted span 3 is new and its drift is named, as under the release's own data root."""
    environments, data = released
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    D.write_span(copy, 3, D.drifted(D.read(), 1500))
    code, stdout, _, _ = _check(environments, copy, tmp_path, monkeypatch, capsys)
    assert code == 0, stdout
    assert "unknown training data" not in stdout
    assert "  - new span 3 since the released model's training spans 1-2" in stdout
    drifted = {line.split(": ")[1] for line in stdout.splitlines() if "drift in span 3" in line}
    assert drifted == {"fare", "trip_start_hour", "company"}, stdout


def test_a_span_whose_content_is_not_the_training_data_is_not_matched_by_number(
    released, tmp_path, monkeypatch, capsys
) -> None:
    environments, data = released
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    D.write_span(copy, 2, D.benign(D.bundled_span(2), 1500, seed=22))  # same number, other rows
    code, stdout, _, _ = _check(environments, copy, tmp_path, monkeypatch, capsys)
    assert code == 0, stdout
    assert "  - new span 2: not among the released model's training spans 1-2" in stdout


def _first(rows: D.Rows, n: int, **values: str) -> D.Rows:
    """The first `n` rows with `values` planted, the others as they were."""
    return [dict(r, **values) if i < n else r for i, r in enumerate(rows)]


@pytest.mark.parametrize(
    ("plant", "reason"),
    [
        (lambda rows: [], "new span 3 refused by the data gate: no examples in span 3"),
        (
            lambda rows: rows[:5],
            "new span 3 refused by the data gate: span 3 has 5 examples, below the minimum "
            "1000 (data.min_examples)",
        ),
        (
            lambda rows: _first(rows, 30, trip_start_hour="30"),
            "new span 3 refused by the data gate: trip_start_hour: Out-of-range values: "
            "Unexpectedly large value: 30",
        ),
        (
            lambda rows: _first(rows, 30, payment_type="Bitcoin"),
            "new span 3 refused by the data gate: payment_type: Unexpected string values: "
            "Examples contain values missing from the schema: Bitcoin",
        ),
        (
            lambda rows: [dict(r, trip_miles="-3") for r in rows],
            "new span 3 refused by the data gate: trip_miles: Out-of-range values: Unexpectedly "
            "small value: -3. (below the domain's minimum 0: float_domain in the schema)",
        ),
    ],
    ids=["header-only", "5-rows", "hour-30", "bitcoin", "negative-whole-miles"],
)
def test_a_new_span_the_data_gate_refuses_is_a_stop_not_a_retrain(
    released, tmp_path, monkeypatch, capsys, plant, reason
) -> None:
    environments, data = released
    D.write_span(data, 3, plant(D.benign(D.read(), 1200, seed=3)))
    code, stdout, stderr, output, _ = _run_check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 1, stdout + stderr  # a gate stopped it, as `mlops run` would stop
    assert f"mlops ct: stopped: {reason}" in stderr
    assert "A retrain would stop at the same gate, so this is not a reason to retrain" in stderr
    assert "retrain" not in stdout and "Traceback" not in stderr
    assert not output.exists()  # no retrain=true for the workflow to act on


def test_decay_below_the_floor_is_a_reason(released, tmp_path, monkeypatch, capsys) -> None:
    """Labels flipped on a new span: the released model's AUC falls far below the floor, and
    the label's base rate moves past its own drift threshold."""
    environments, data = released
    D.write_span(data, 3, D.flipped(D.read(), 1500))
    code, stdout, _, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 0, stdout
    decay = [line for line in stdout.splitlines() if "decay:" in line]
    assert len(decay) == 1, stdout
    assert "the released model's auc on span 3 is 0." in decay[0]
    assert "< floor 0.78 (continuous_training.decay_floor" in decay[0]
    assert f"drift in span 3 against spans 1-2: {F.LABEL_KEY}: l_infinity 0." in stdout


def test_a_higher_floor_turns_a_healthy_model_into_decay(
    released, tmp_path, monkeypatch, capsys
) -> None:
    environments, data = released
    D.write_span(data, 3, D.benign(D.read(), 1500, seed=3))
    update_overlay(environments, "dev", {"continuous_training": {"decay_floor": 0.999}})
    code, stdout, _, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 0 and "auc on span 3 is 0." in stdout and "< floor 0.999" in stdout


def test_unknown_training_data_says_decay_cannot_be_scored(
    tmp_path, taxi, rule_model, monkeypatch, capsys
) -> None:
    environments = taxi
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, D.benign(D.bundled_span(number), 1500, seed=number))
    _release(environments, rule_model, tmp_path / "gone", spans=[1, 2])
    code, stdout, _, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 0, stdout
    assert "  - unknown training data: dev's release was trained on span(s) 1-2 under " in stdout
    assert "note: decay not measured: which spans the released model was trained on " in stdout
    assert "auc on span" not in stdout


def test_an_old_release_is_a_reason(released, tmp_path, monkeypatch, capsys, rule_model) -> None:
    environments, data = released
    _release(environments, rule_model, data, spans=[1, 2], age_days=45)
    code, stdout, _, _ = _check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 0
    assert "release age 45.0 days > 30 days (continuous_training.max_release_age_days" in stdout


def test_no_release_means_retrain(tmp_path, taxi, monkeypatch, capsys) -> None:
    data = tmp_path / "data"
    D.write_span(data, 1, D.benign(D.read(), 1200))
    code, stdout, output, _ = _check(taxi, data, tmp_path, monkeypatch, capsys)
    assert code == 0 and "no release in dev yet" in stdout
    assert output.startswith("retrain=true\n")


def test_a_tampered_release_is_a_gate_error(released, tmp_path, monkeypatch, capsys) -> None:
    environments, data = released
    D.write_span(data, 3, D.benign(D.read(), 1500, seed=3))  # decay reads the model by digest
    record = environments / "dev" / "release.yaml"
    record.write_text(record.read_text().replace("sha256:", "sha256:0"))
    code, _, err, _, _ = _run_check(environments, data, tmp_path, monkeypatch, capsys)
    assert code == 1
    assert "mlops ct: stopped:" in err and "changed after" in err


def test_compiling_offline_reads_no_data(tmp_path, environments, monkeypatch) -> None:
    """`mlops compile` runs offline: a bucket data root is not listed to match spans."""
    from core import config
    from ct import spans
    from pipeline.continuous import released_baseline

    data, model = tmp_path / "data", tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"not read here")
    _release(environments, model, data, spans=[1, 2])

    def no_listing(pattern: str) -> list[str]:
        raise AssertionError(f"listed {pattern}")

    monkeypatch.setattr(spans, "_glob", no_listing)
    cfg = config.load("dev", environments, data_root="gs://unreachable-bucket/data")
    baseline = released_baseline(cfg, environments, read_data=False)
    assert baseline.spans == [] and baseline.unseen is None
    assert "this pipeline reads gs://unreachable-bucket/data; drift was not measured" in (
        baseline.note
    )
    same = config.load("dev", environments, data_root=str(data))
    assert released_baseline(same, environments, read_data=False).spans == [1, 2]


# --- the window and its config ----------------------------------------------------------------


def _examples(artifact_id: int, span: int):
    from tfx.types import standard_artifacts

    artifact = standard_artifacts.Examples()
    artifact.id = artifact_id
    artifact.set_int_custom_property("span", span)
    return artifact


def test_the_window_takes_the_newest_artifact_of_each_window_span() -> None:
    from components.window import SpanWindowStrategy

    ingested = [
        _examples(1, 1),
        _examples(2, 2),
        _examples(3, 3),
        _examples(4, 2),
        _examples(5, 4),
    ]  # span 2 re-ingested (id 4); span 4 is outside the window
    result = SpanWindowStrategy(spans=[2, 3]).resolve_artifacts(None, {"examples": ingested})
    assert result is not None
    assert [a.id for a in result["examples"]] == [4, 3]


def test_a_window_span_never_ingested_resolves_nothing() -> None:
    from components.window import SpanWindowStrategy

    strategy = SpanWindowStrategy(spans=[2, 3])
    assert strategy.resolve_artifacts(None, {"examples": [_examples(1, 3)]}) is None


def test_the_window_is_the_newest_k_span_folders(tmp_path, taxi) -> None:
    from core import config
    from ct import spans

    data = tmp_path / "data"
    for number in (1, 2, 10):
        D.write_span(data, number, [])
    cfg = config.load("dev", taxi, data_root=str(data))
    assert cfg.data.window_spans == 2
    assert spans.window(cfg) == [2, 10]  # numbers, not text order
    assert spans.describe([2, 3, 4]) == "2-4" and spans.describe([2, 10]) == "2, 10"


def test_kubeflow_environments_must_train_on_one_span(environments) -> None:
    from core import config
    from core.errors import ConfigError

    update_overlay(environments, "staging", {"data": {"window_spans": 2}})
    with pytest.raises(
        ConfigError,
        match=r"environments/staging/config.yaml: data.window_spans: "
        r"must be 1 with orchestration.runner kubeflow_v2",
    ):
        config.load("staging", environments)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_graph_gets_mode_thresholds_and_window_from_config(env: str, monkeypatch) -> None:
    from components.window import SpanWindowStrategy
    from core import config
    from ct import spans
    from pipeline.definition import create_pipeline

    monkeypatch.setenv("GITHUB_REPOSITORY", "Acme/Taxi")  # staging's and prod's registry
    cfg = config.load(env)
    nodes = {c.id: c for c in create_pipeline(cfg, drift_spans=[1, 2]).components}
    gate = nodes["DataGate"].inputs  # the whole-number check needs the statistics and schema
    assert gate["statistics"].producer_component_id == "StatisticsGen"
    assert (
        gate["schema"].producer_component_id
        == nodes["ExampleValidator"].inputs["schema"].producer_component_id
    )
    props = nodes["DriftGate"].exec_properties
    assert (props["mode"], props["min_examples"]) == (cfg.drift.mode, cfg.data.min_examples)
    assert props["baseline_spans"] == "[1, 2]" and "jensen_shannon" in props["thresholds"]
    assert props["data_pattern"].endswith("span-{SPAN}/*.csv")
    assert nodes["DriftGate"].inputs["data_report"].producer_component_id == "DataGate"
    assert "DriftGate" in {u.id for u in nodes["Transform"].upstream_nodes}
    assert nodes["Transform"].inputs["examples"].producer_component_id == "SpanWindow"
    if env == "dev":  # local: the window's span numbers, from the span folders
        window = nodes["SpanWindow"].exec_properties
        assert window["resolver_class"] is SpanWindowStrategy
        # The newest data.window_spans span folders of the project's data ([1, 2] for the taxi
        # sample, [1] for a one-span project with window_spans 1).
        assert spans.window(cfg) and window["source_uri"] == {"spans": spans.window(cfg)}
