"""Offline compilation of the Vertex AI / KFP v2 environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops import cli, config
from mlops.errors import ConfigError
from pipeline.runner import compile_kubeflow


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_compile_writes_a_pipeline_spec(environments: Path, env: str) -> None:
    cfg = config.load(env, environments)
    path = compile_kubeflow(cfg)
    assert path.is_relative_to(environments.parent)
    spec = json.loads(path.read_text())
    pipeline_spec = spec["pipelineSpec"]
    assert pipeline_spec["pipelineInfo"]["name"] == cfg.pipeline_name
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for node in ("CsvExampleGen", "ExampleValidator", "DataGate", "Transform", "Trainer",
                 "Evaluator", "Pusher"):
        assert node in tasks
    assert "DataGate" in tasks["DriftGate"]["dependentTasks"]
    assert "DriftGate" in tasks["Transform"]["dependentTasks"]
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == cfg.paths.pipeline_root
    executors = json.dumps(pipeline_spec["deploymentSpec"])
    assert cfg.orchestration.image in executors
    assert "DataflowRunner" in executors


def test_dev_does_not_compile(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ConfigError, match="only kubeflow_v2 environments compile"):
        compile_kubeflow(config.load("dev"))
    assert cli.main(["compile", "--env", "dev"]) == 2
    assert "mlops run --env dev" in capsys.readouterr().err
