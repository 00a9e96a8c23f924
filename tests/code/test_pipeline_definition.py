"""The pipeline graph: the components the issue lists, wired in the order the data flows."""

from __future__ import annotations

import json

import pytest

from components.baseline import ReleasedBaseline
from core import config
from pipeline.definition import BASELINE_IMPORTER, BASELINE_RESOLVER, NODE_IDS, create_pipeline

RELEASED = ReleasedBaseline(
    "dev",
    1795000000,
    "sha256:" + "ab" * 32,
    "oci://ghcr.io/acme/taxi/models/taxi_tips@sha256:" + "cd" * 32,
    "/tmp/baseline/abab",
)


def _by_id(pipeline):
    return {c.id: c for c in pipeline.components}


def _producer(component, key: str) -> str:
    return component.inputs[key].producer_component_id


@pytest.fixture(scope="module", params=["dev", "staging", "prod"])
def graph(request):
    import os

    os.environ["GITHUB_REPOSITORY"] = "acme/taxi"  # staging/prod stores name the registry
    try:
        cfg = config.load(request.param)
        return cfg, _by_id(create_pipeline(cfg, baseline=RELEASED))
    finally:
        del os.environ["GITHUB_REPOSITORY"]


def test_has_every_component(graph) -> None:
    cfg, nodes = graph
    local = cfg.orchestration.runner == "local"
    expected = set(NODE_IDS) if local else set(NODE_IDS) - {BASELINE_IMPORTER} | {BASELINE_RESOLVER}
    assert set(nodes) == expected


def test_validation_feeds_the_gate_and_the_gate_guards_transform(graph) -> None:
    _, n = graph
    assert _producer(n["StatisticsGen"], "examples") == "CsvExampleGen"
    assert _producer(n["ExampleValidator"], "statistics") == "StatisticsGen"
    assert _producer(n["ExampleValidator"], "schema") == "ImportSchemaGen"
    assert _producer(n["DataGate"], "anomalies") == "ExampleValidator"
    assert _producer(n["DriftGate"], "data_report") == "DataGate"  # drift after the data gate
    assert _producer(n["DriftGate"], "examples") == "CsvExampleGen"
    assert "DriftGate" in {u.id for u in n["Transform"].upstream_nodes}


def test_transform_trainer_evaluator_pusher_chain(graph) -> None:
    _, n = graph
    assert _producer(n["Transform"], "examples") == "SpanWindow"
    assert _producer(n["Transform"], "schema") == "ImportSchemaGen"
    assert _producer(n["Trainer"], "examples") == "Transform"
    assert _producer(n["Trainer"], "transform_graph") == "Transform"
    assert _producer(n["Evaluator"], "model") == "Trainer"
    assert _producer(n["Evaluator"], "baseline_model") in (BASELINE_IMPORTER, BASELINE_RESOLVER)
    assert _producer(n["Evaluator"], "examples") == "CsvExampleGen"
    assert _producer(n["Pusher"], "model") == "Trainer"
    assert _producer(n["Pusher"], "model_blessing") == "Evaluator"


def test_settings_come_from_the_environment(graph) -> None:
    cfg, n = graph
    custom_config = json.loads(n["Trainer"].exec_properties["custom_config"])
    assert custom_config["training"]["seed"] == cfg.training.seed
    assert custom_config["training"]["learning_rate"] == cfg.training.learning_rate
    eval_config = n["Evaluator"].exec_properties["eval_config"]
    assert str(cfg.evaluation.bound) in eval_config  # the floor, or an rmse's ceiling
    assert cfg.model_store_dir in n["Pusher"].exec_properties["push_destination"]
    assert "{SPAN}" in n["CsvExampleGen"].exec_properties["input_config"]


def test_schema_is_imported_not_inferred(graph) -> None:
    _, n = graph
    assert (
        n["ImportSchemaGen"].exec_properties["schema_file"].endswith("models/schema/schema.pbtxt")
    )


def test_local_baseline_is_the_released_model_imported() -> None:
    """The regression gate compares against what the environment runs, not ML Metadata's
    history (empty on every fresh CI runner)."""
    nodes = _by_id(create_pipeline(config.load("dev"), baseline=RELEASED))
    importer = nodes[BASELINE_IMPORTER]
    assert importer.exec_properties["artifact_uri"] == RELEASED.model_uri
    assert _producer(nodes["Evaluator"], "baseline_model") == BASELINE_IMPORTER
    assert nodes["Trainer"].exec_properties["run_fn"] == "models.trainer.run_fn"
    first = _by_id(create_pipeline(config.load("dev")))  # no release yet: no baseline at all
    assert BASELINE_IMPORTER not in first and "baseline_model" not in first["Evaluator"].inputs


def test_the_evaluator_runs_the_slice_rule_after_tfma(graph) -> None:
    """An undefined metric on one slice is skipped, not compared (components/evaluator.py)."""
    from components import evaluator

    _, n = graph
    assert n["Evaluator"].executor_spec.executor_class is evaluator.Executor


def test_transform_writes_only_what_the_trainer_reads(graph) -> None:
    """No TFDV statistics of its own (the data gate reads StatisticsGen's) and no analyzer cache
    (no later run is given one): each cost seconds and memory on every cold run."""
    _, n = graph
    assert set(n["Transform"].outputs) == {"transform_graph", "transformed_examples"}
