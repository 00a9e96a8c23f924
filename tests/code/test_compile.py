"""Offline compilation of the Vertex AI / KFP v2 environments."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core import config
from core.errors import ConfigError
from core.paths import REPO_ROOT
from mlops import cli
from pipeline.runner import compile_kubeflow
from tests.support.project import MODEL, SLUG
from tests.support.repo import PACKAGES


@pytest.fixture(autouse=True)
def _repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """What GitHub Actions sets: staging's and prod's stores are this repository's GHCR."""
    monkeypatch.setenv("GITHUB_REPOSITORY", "Acme/Taxi")


def test_compile_needs_no_github_repository(
    environments: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Offline, in a clone whose origin is not GitHub: the placeholder namespace, and a note."""
    monkeypatch.delenv("GITHUB_REPOSITORY")
    monkeypatch.setattr(config, "_origin_repository", lambda: "")
    assert cli.main(["--environments", str(environments), "compile", "--env", "staging"]) == 0
    out, err = capsys.readouterr()
    output = environments.parent / "build" / "staging" / "pipeline.json"
    assert f"Compiled {config.load('staging').pipeline_name} for staging: {output}" in out
    tasks = json.loads(output.read_text())["pipelineSpec"]["root"]["dag"]["tasks"]
    assert f"oci://ghcr.io/local/{SLUG}/models/{MODEL}" in json.dumps(tasks["Pusher"])
    assert (
        f"note: staging's model store oci://ghcr.io/local/{SLUG}/models is GHCR under a "
        "placeholder namespace (GITHUB_REPOSITORY is unset and origin is not a GitHub remote)"
    ) in err
    assert "export GITHUB_REPOSITORY=owner/repo" in err and "Traceback" not in err


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_compile_writes_a_pipeline_spec(environments: Path, env: str) -> None:
    cfg = config.load(env, environments)
    path = compile_kubeflow(cfg)
    assert path.is_relative_to(environments.parent)
    spec = json.loads(path.read_text())
    pipeline_spec = spec["pipelineSpec"]
    assert pipeline_spec["pipelineInfo"]["name"] == cfg.pipeline_name
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for node in (
        "CsvExampleGen",
        "ExampleValidator",
        "DataGate",
        "Transform",
        "Trainer",
        "Evaluator",
        "Pusher",
    ):
        assert node in tasks
    assert "DataGate" in tasks["DriftGate"]["dependentTasks"]
    assert "DriftGate" in tasks["Transform"]["dependentTasks"]
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == cfg.paths.pipeline_root
    executors = json.dumps(pipeline_spec["deploymentSpec"])
    assert cfg.orchestration.image in executors
    assert "DataflowRunner" in executors
    # The Pusher publishes to the repository's registry namespace, lower-cased for OCI.
    assert f"oci://ghcr.io/Acme/Taxi/models/{MODEL}" in json.dumps(tasks["Pusher"])


def test_dev_does_not_compile(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ConfigError, match="only kubeflow_v2 environments compile"):
        compile_kubeflow(config.load("dev"))
    assert cli.main(["compile", "--env", "dev"]) == 2
    assert "mlops run --env dev" in capsys.readouterr().err


def test_compiled_json_holds_no_path_of_the_compiling_machine(tmp_path: Path) -> None:
    """Compile from a copy of the repository: the JSON must not name the copy's folder.

    The curated schema's absolute path used to be embedded; on Vertex AI that path does not
    exist inside the pipeline image. The copy is a clone whose origin is not on GitHub, with no
    GITHUB_REPOSITORY or MODEL_REGISTRY, as `make compile` meets it on a laptop.
    """
    import shutil
    import subprocess
    import sys

    copy = tmp_path / "checkout"
    for folder in (*PACKAGES, "environments", "infra"):
        shutil.copytree(
            REPO_ROOT / folder,
            copy / folder,
            ignore=shutil.ignore_patterns("__pycache__", "manifests", "release.yaml"),
        )
    subprocess.run(["git", "init", "-q", str(copy)], check=True)
    origin = "https://gitlab.example.com/acme/taxi.git"
    subprocess.run(["git", "-C", str(copy), "remote", "add", "origin", origin], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_REPOSITORY", "MODEL_REGISTRY")}
    result = subprocess.run(
        [sys.executable, "-m", "mlops.cli", "compile", "--env", "staging"],
        cwd=copy,
        env={**env, "PYTHONPATH": str(copy)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "placeholder namespace (GITHUB_REPOSITORY is unset" in result.stderr
    output = copy / "build" / "staging" / "pipeline.json"
    assert (
        f"Compiled {config.load('staging').pipeline_name} for staging: {output}" in result.stdout
    )  # the copy ran
    text = output.read_text()
    for machine_path in {str(copy), str(copy.resolve()), str(tmp_path), str(REPO_ROOT)}:
        assert machine_path not in text
    assert '"stringValue": "models/schema/schema.pbtxt"' in text
    assert f"oci://ghcr.io/local/{SLUG}/models/{MODEL}" in text  # the documented placeholder
    assert "components.schema_import.Executor" in text
    # The user code is referenced by import path, from the package the image installs.
    assert "models.preprocessing.preprocessing_fn" in text
    assert "models.trainer.run_fn" in text


def test_the_packaged_schema_reference_resolves_where_the_code_is_installed(tmp_path: Path) -> None:
    """What the ImportSchemaGen step does inside the pipeline image, run here."""
    from tfx.types import standard_artifacts

    from components.schema_import import Executor, package_reference, resolve
    from core.schema import SCHEMA_FILE

    reference = package_reference()
    assert reference == "models/schema/schema.pbtxt"
    assert resolve(reference) == str(SCHEMA_FILE)
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    (tmp_path / "schema").mkdir()
    Executor().Do({}, {"schema": [schema]}, {"schema_file": reference})
    assert (tmp_path / "schema" / "schema.pbtxt").read_text() == SCHEMA_FILE.read_text()
    with pytest.raises(ValueError, match=r"schema file 'models/schema/nope\.pbtxt' not found"):
        resolve("models/schema/nope.pbtxt")
