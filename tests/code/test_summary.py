"""The run summary file is read by CI job summaries and `mlops promote`: it must be strict JSON."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from core.errors import GateError
from pipeline.runner import require_blessed
from pipeline.summary import MetricRow, RunSummary
from tests.support.repo import strict_json


def test_metrics_tfma_could_not_compute_are_written_as_null(tmp_path: Path) -> None:
    """A slice with one class has no AUC: TFMA reports NaN, which `JSON.parse` rejects."""
    summary = RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        overall=MetricRow("overall", {"auc": 0.9, "loss": math.inf}),
        slices=[
            MetricRow(
                "payment_type=No Charge",
                {"auc": math.nan, "example_count": 3.0},
                baseline={"auc": -math.inf},
            )
        ],
    )
    path = tmp_path / "run_summary.json"
    path.write_text(summary.to_json())
    data = strict_json(path)
    assert data["overall"]["metrics"] == {"auc": 0.9, "loss": None}
    assert data["slices"][0]["metrics"] == {"auc": None, "example_count": 3.0}
    assert data["slices"][0]["baseline"] == {"auc": None}


def test_the_strict_parser_refuses_bare_nan(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"auc": NaN}')
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict_json(path)


@pytest.mark.parametrize("blessed", [True, None])
def test_a_blessed_or_unevaluated_run_passes(blessed: bool | None) -> None:
    require_blessed(_summary(blessed))


def test_a_run_whose_model_was_not_blessed_is_stopped_by_the_gate() -> None:
    with pytest.raises(GateError, match=r"the model was not blessed .*nothing was pushed"):
        require_blessed(_summary(False))


def _summary(blessed: bool | None) -> RunSummary:
    return RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        blessed=blessed,
    )


@pytest.mark.parametrize(("verdict", "went_on"), [("WARN", True), ("FAIL", False), ("PASS", False)])
def test_the_summary_says_when_drift_only_warned(verdict: str, went_on: bool) -> None:
    """The drift verdict as the report JSON holds it (plain text) drives the warn line."""
    summary = RunSummary(
        environment="dev",
        pipeline_name="p",
        components=[],
        data_validation="PASS",
        anomalies=[],
        drift={
            "verdict": verdict,
            "span": 2,
            "baseline_spans": [1],
            "mode": "warn" if verdict == "WARN" else "stop",
            "examples": 1000,
            "drifted": [],
        },
    )
    assert f"Drift: {verdict} (span 2" in summary.render()
    assert ("drift.mode is warn: the run went on" in summary.render()) is went_on


def _tfx_like_metadata(path: Path, pipeline_name: str, trainer_states: list[str]) -> list[str]:
    """ML Metadata as LocalDagRunner leaves it: one pipeline_run context per run, and a Trainer
    execution per run whose OUTPUT event names its model. A COMPLETE execution trained a new
    model; a CACHED one (a run that reused the Trainer from cache) points at the newest model
    there is. Returns the run names."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2 as pb
    from tfx.orchestration import metadata

    store = mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(str(path)))
    types = {
        name: store.put_context_type(pb.ContextType(name=name))
        for name in ("pipeline", "node", "pipeline_run")
    }
    trainer_type = store.put_execution_type(pb.ExecutionType(name="tfx.components.Trainer"))
    model_type = store.put_artifact_type(pb.ArtifactType(name="Model"))
    pipeline_ctx, node_ctx = store.put_contexts(
        [
            pb.Context(type_id=types["pipeline"], name=pipeline_name),
            pb.Context(type_id=types["node"], name=f"{pipeline_name}.Trainer"),
        ]
    )
    runs = []
    for i, state in enumerate(trainer_states):
        name = f"2026-11-30T10:0{i}:00.000000"
        [run_ctx] = store.put_contexts([pb.Context(type_id=types["pipeline_run"], name=name)])
        execution = pb.Execution(
            type_id=trainer_type, last_known_state=getattr(pb.Execution, state)
        )
        [execution_id] = store.put_executions([execution])
        if state == "COMPLETE":
            [model_id] = store.put_artifacts([pb.Artifact(type_id=model_type, uri=f"/m/{i}")])
        key = pb.Event.Path(steps=[pb.Event.Path.Step(key="model")])
        store.put_events(
            [
                pb.Event(
                    artifact_id=model_id, execution_id=execution_id, type=pb.Event.OUTPUT, path=key
                )
            ]
        )
        store.put_attributions_and_associations(
            [],
            [
                pb.Association(context_id=c, execution_id=execution_id)
                for c in (pipeline_ctx, node_ctx, run_ctx)
            ],
        )
        runs.append(name)
    return runs


def test_pipeline_run_names_the_run_that_trained_the_model(tmp_path: Path) -> None:
    """A re-run that reuses the Trainer from cache is not where the model came from."""
    from core import config
    from pipeline.summary import summarize

    cfg = config.load("dev", output_root=str(tmp_path))
    trained, rerun = _tfx_like_metadata(
        Path(cfg.paths.metadata), cfg.pipeline_name, ["COMPLETE", "CACHED"]
    )
    summary = summarize(cfg, {})
    assert (summary.pipeline_run, summary.current_run) == (trained, rerun)
    assert strict_json(tmp_path / "run_summary.json")["pipeline_run"] == trained


def test_pipeline_run_is_this_run_when_it_trained(tmp_path: Path) -> None:
    from core import config
    from pipeline.summary import summarize

    cfg = config.load("dev", output_root=str(tmp_path))
    runs = _tfx_like_metadata(
        Path(cfg.paths.metadata), cfg.pipeline_name, ["COMPLETE", "CACHED", "COMPLETE"]
    )
    summary = summarize(cfg, {})
    assert summary.pipeline_run == summary.current_run == runs[2]
