"""`mlops submit`: everything up to Vertex AI's API, from the compiled JSON (no network)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from core import config, image_ref
from core.errors import ConfigError
from delivery import vertex_submit
from mlops import cli
from pipeline.runner import compile_kubeflow
from tests.support.project import SLUG
from tests.support.repo import copy_environments, update_overlay

DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = f"ghcr.io/acme/taxi/pipeline@{DIGEST}"
COMMIT = "A1B2C3D4E5F60718293a4b5c6d7e8f9012345678"
VARIABLES = {
    image_ref.VARIABLE: IMAGE,
    "GCP_PROJECT": "acme-ml",
    "GCP_REGION": "europe-west4",
    "VERTEX_SERVICE_ACCOUNT": "pipelines@acme-ml.iam.gserviceaccount.com",
    "GITHUB_REPOSITORY": "Acme/Taxi",
    "MLOPS_SOURCE_COMMIT": COMMIT,
}
ROOT = f"gs://acme-ml-pipelines/{SLUG}/staging/pipeline"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """environments/ whose staging names a real bucket, compiled once with CI's variables."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in VARIABLES.items():
            mp.setenv(name, value)
        environments = copy_environments(tmp_path_factory.mktemp("submit"))
        beam = [
            "--runner=DataflowRunner",
            "--project=acme-ml",
            "--region=europe-west4",
            "--temp_location=gs://acme-ml-pipelines/beam-tmp",
        ]
        update_overlay(
            environments,
            "staging",
            {"paths": {"pipeline_root": ROOT}, "orchestration": {"beam_args": beam}},
        )
        compile_kubeflow(config.load("staging", environments), environments)
        yield environments


@pytest.fixture
def environments(compiled: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in VARIABLES.items():
        monkeypatch.setenv(name, value)
    return compiled


def test_the_pipeline_job_is_built_from_the_compiled_json(environments: Path) -> None:
    cfg = config.load("staging", environments)
    plan = vertex_submit.plan(cfg)
    job = vertex_submit.build_job(plan, credentials=AnonymousCredentials())
    assert job.project == "acme-ml" and job.location == "europe-west4"
    body = job._gca_resource
    assert body.display_name == f"{SLUG}-staging"
    assert body.runtime_config.gcs_output_directory == ROOT
    assert dict(body.labels) == {
        "environment": "staging",
        "git-commit": COMMIT.lower(),
        "image-sha256": ("0123456789abcdef" * 4)[:63],
    }
    spec = json.loads(Path(cfg.orchestration.compiled_pipeline).read_text())
    assert (
        body.pipeline_spec["pipelineInfo"]["name"] == spec["pipelineSpec"]["pipelineInfo"]["name"]
    )
    assert IMAGE in type(body).to_json(body)


def test_submit_sends_the_service_account_and_nothing_else_is_contacted(
    environments: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    calls: list[dict] = []

    def fake_submit(self, **kwargs) -> None:
        calls.append({"labels": dict(self._gca_resource.labels), **kwargs})

    from google.cloud import aiplatform

    monkeypatch.setattr(aiplatform.PipelineJob, "submit", fake_submit)
    monkeypatch.setattr(aiplatform.PipelineJob, "resource_name", "projects/acme-ml/run-1")
    monkeypatch.setattr(
        vertex_submit,
        "build_job",
        lambda plan: aiplatform.PipelineJob(
            display_name=plan.display_name,
            template_path=plan.template_path,
            pipeline_root=plan.pipeline_root,
            labels=plan.labels,
            project=plan.project,
            location=plan.location,
            credentials=AnonymousCredentials(),
        ),
    )
    args = ["--environments", str(environments), "submit", "--env", "staging"]
    assert cli.main(args) == 0
    assert calls == [
        {
            "labels": vertex_submit.labels("staging", COMMIT, IMAGE),
            "service_account": VARIABLES["VERTEX_SERVICE_ACCOUNT"],
        }
    ]
    out = capsys.readouterr().out
    assert "Submitted: projects/acme-ml/run-1" in out and f"image: {IMAGE}" in out


@pytest.mark.parametrize(
    ("variable", "key"),
    [("GCP_PROJECT", "orchestration.vertex.project"), ("GCP_REGION", None)],
)
def test_a_missing_project_is_refused_naming_the_key(
    environments: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    variable: str,
    key: str | None,
) -> None:
    monkeypatch.delenv(variable)
    if key is None:  # the region has a default in cloud.yaml: an overlay that empties it
        key = "orchestration.vertex.region"
        update_overlay(environments, "staging", {"orchestration": {"vertex": {"region": ""}}})
    try:
        assert cli.main(["--environments", str(environments), "submit", "--env", "staging"]) == 2
    finally:
        update_overlay(
            environments, "staging", {"orchestration": {"vertex": {"region": "${GCP_REGION}"}}}
        )
    err = capsys.readouterr().err
    assert f"{key}: required to submit to Vertex AI" in err and "Traceback" not in err
    if variable == "GCP_PROJECT":
        assert "cloud.yaml" in err and "set GCP_PROJECT" in err


def test_a_placeholder_bucket_is_refused_naming_the_key() -> None:
    cfg = config.load("staging")  # the committed gs://YOUR_BUCKET/...
    with pytest.raises(ConfigError, match=r"staging/config.yaml: paths.pipeline_root: required"):
        vertex_submit.plan(cfg)


def test_a_pipeline_root_that_is_not_a_bucket_is_refused(environments: Path) -> None:
    cfg = config.load("staging", environments)
    cfg = dataclasses.replace(
        cfg, paths=dataclasses.replace(cfg.paths, pipeline_root="/srv/pipeline")
    )
    with pytest.raises(ConfigError, match=re.escape("paths.pipeline_root: must be a bucket URI")):
        vertex_submit.plan(cfg)


def test_the_placeholder_image_is_refused(
    environments: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(image_ref.VARIABLE)
    with pytest.raises(ConfigError, match=f"placeholder digest; set {image_ref.VARIABLE}"):
        vertex_submit.plan(config.load("staging", environments))


def test_json_compiled_for_another_image_is_refused(
    environments: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(image_ref.VARIABLE, IMAGE.replace("0123", "4567"))
    with pytest.raises(ConfigError, match=re.escape("was not compiled with orchestration.image")):
        vertex_submit.plan(config.load("staging", environments))


def test_a_parameter_the_pipeline_does_not_declare_is_refused(environments: Path) -> None:
    cfg = config.load("staging", environments)
    vertex = dataclasses.replace(cfg.orchestration.vertex, parameters={"epochs": 3})
    cfg = dataclasses.replace(
        cfg, orchestration=dataclasses.replace(cfg.orchestration, vertex=vertex)
    )
    with pytest.raises(
        ConfigError, match=re.escape("vertex.parameters.epochs: the compiled pipeline has no")
    ):
        vertex_submit.plan(cfg)


def test_no_compiled_json_says_to_compile(environments: Path, tmp_path: Path) -> None:
    cfg = config.load("staging", environments)
    with pytest.raises(ConfigError, match="run `mlops compile --env staging` first"):
        vertex_submit.plan(cfg, tmp_path / "missing.json")


def test_dev_is_not_submitted(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["submit", "--env", "dev"]) == 2
    assert "mlops run --env dev" in capsys.readouterr().err


def test_a_placeholder_in_beam_args_is_refused(environments: Path) -> None:
    cfg = config.load("staging", environments)
    args = [*cfg.orchestration.beam_args[:1], "--project=YOUR_PROJECT"]
    orchestration = dataclasses.replace(cfg.orchestration, beam_args=args)
    with pytest.raises(ConfigError, match=re.escape("orchestration.beam_args[1]: '--project=YOU")):
        vertex_submit.plan(dataclasses.replace(cfg, orchestration=orchestration))


def test_dry_run_checks_and_prints_but_builds_no_job(
    environments: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def no_job(plan: vertex_submit.Submission) -> None:
        raise AssertionError("a dry run built a PipelineJob")

    monkeypatch.setattr(vertex_submit, "build_job", no_job)
    args = ["--environments", str(environments), "submit", "--env", "staging", "--dry-run"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "on Vertex AI project acme-ml, region europe-west4" in out
    assert f"pipeline root: {ROOT}" in out and "git-commit=a1b2c3d4" in out


def test_a_refusal_by_vertex_is_an_infrastructure_error(
    environments: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from google.api_core.exceptions import PermissionDenied

    class Job:
        def submit(self, service_account: str | None = None) -> None:
            raise PermissionDenied("aiplatform.pipelineJobs.create denied")

    monkeypatch.setattr(vertex_submit, "build_job", lambda plan: Job())
    assert cli.main(["--environments", str(environments), "submit", "--env", "staging"]) == 3
    err = capsys.readouterr().err
    assert "Vertex AI refused the pipeline run in project 'acme-ml'" in err
    assert "pipelineJobs.create denied" in err and "Traceback" not in err
