"""Submitting a compiled kubeflow_v2 pipeline to Vertex AI Pipelines.

Everything is decided and checked offline in `plan` (the environment's project, region, bucket,
image, parameters and labels), so a refusal names the config key before any credentials are
asked for; `build_job` then makes the SDK's PipelineJob from the compiled JSON and `submit`
is the only network call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from core import image_ref
from core.config import EnvironmentConfig, expand_variables, source_of
from core.errors import ConfigError, InfraError
from core.provenance import git_commit
from core.uris import display

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.aiplatform import PipelineJob

# A value still holding a placeholder of the committed files, or a variable left unset.
_UNSET = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|YOUR_[A-Z_]+")
# Vertex AI label values: lower-case letters, digits, `-` and `_`, at most 63 characters.
_LABEL_BAD = re.compile(r"[^a-z0-9_-]")
LABEL_MAX = 63
# Where each setting comes from, for messages: the key, and the variable cloud.yaml reads it from.
_VARIABLES = {
    "orchestration.vertex.project": "GCP_PROJECT",
    "orchestration.vertex.region": "GCP_REGION",
}


@dataclass(frozen=True)
class Submission:
    """One Vertex AI pipeline run, as it will be submitted."""

    display_name: str
    template_path: str
    pipeline_root: str
    project: str
    location: str
    service_account: str
    image: str
    parameter_values: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


def plan(cfg: EnvironmentConfig, compiled: Path | None = None) -> Submission:
    """The run `cfg` asks for, from its compiled JSON; ConfigError naming the key otherwise."""
    if cfg.orchestration.runner != "kubeflow_v2":
        raise ConfigError(
            f"environment {cfg.name!r} uses orchestration.runner="
            f"{cfg.orchestration.runner!r}; only kubeflow_v2 environments are submitted "
            f"(run this one with `mlops run --env {cfg.name}`)"
        )
    vertex = cfg.orchestration.vertex
    project = _required(cfg, "orchestration.vertex.project", vertex.project)
    region = _required(cfg, "orchestration.vertex.region", vertex.region)
    root = _required(cfg, "paths.pipeline_root", cfg.paths.pipeline_root)
    if not root.startswith("gs://"):
        _refuse(cfg, "paths.pipeline_root", f"must be a bucket URI (gs://BUCKET/...), got {root!r}")
    for i, arg in enumerate(cfg.orchestration.beam_args):
        if _UNSET.search(arg):
            raise ConfigError(
                f"{source_of(cfg, 'orchestration.beam_args')}: orchestration.beam_args[{i}]: "
                f"{arg!r} still holds a placeholder; Dataflow would reject the job"
            )
    image = cfg.orchestration.image
    if image_ref.is_placeholder(image):
        _refuse(
            cfg,
            "orchestration.image",
            f"{image!r} is the placeholder digest; set {image_ref.VARIABLE} to the image CI "
            f"built (IMAGE@sha256:<digest>, the pipeline-image job's output) and compile again",
        )
    path = Path(compiled or cfg.orchestration.compiled_pipeline)
    spec = _read_compiled(cfg, path)
    compiled_root = spec.get("runtimeConfig", {}).get("gcsOutputDirectory", "")
    if compiled_root != root:
        raise ConfigError(
            f"{display(path)} was compiled for pipeline root {compiled_root!r}, but "
            f"paths.pipeline_root is {root!r}: run `mlops compile --env {cfg.name}` again"
        )
    if image not in json.dumps(spec.get("pipelineSpec", {}).get("deploymentSpec", {})):
        raise ConfigError(
            f"{display(path)} was not compiled with orchestration.image {image!r}: run "
            f"`mlops compile --env {cfg.name}` again with the same {image_ref.VARIABLE}"
        )
    declared = spec.get("pipelineSpec", {}).get("root", {}).get("inputDefinitions", {})
    known = sorted(declared.get("parameters", {}))
    for name in vertex.parameters:
        if name not in known:
            _refuse(
                cfg,
                f"orchestration.vertex.parameters.{name}",
                f"the compiled pipeline has no parameter {name!r} "
                f"(its parameters: {', '.join(known) or 'none'})",
            )
    service_account = expand_variables(vertex.service_account)
    if _UNSET.search(service_account):
        _refuse(cfg, "orchestration.vertex.service_account", f"not set: {service_account!r}")
    return Submission(
        display_name=cfg.pipeline_name,
        template_path=str(path),
        pipeline_root=root,
        project=project,
        location=region,
        service_account=service_account,
        image=image,
        parameter_values=dict(vertex.parameters),
        labels=labels(cfg.name, git_commit(), image),
    )


def labels(env: str, commit: str, image: str) -> dict[str, str]:
    """The run's labels: environment, source commit and image digest, in Vertex's label syntax.

    A label value holds at most 63 characters, so the digest keeps its first 63 hex digits.
    """
    out = {"environment": env, "git-commit": commit, "image-sha256": image_ref.digest_of(image)}
    out["image-sha256"] = out["image-sha256"].removeprefix("sha256:")
    return {k: _LABEL_BAD.sub("-", v.lower())[:LABEL_MAX] for k, v in out.items() if v}


def build_job(sub: Submission, credentials: Credentials | None = None) -> PipelineJob:
    """The SDK's PipelineJob for `sub`: reads the compiled JSON, sends nothing."""
    from google.cloud.aiplatform import PipelineJob

    return PipelineJob(
        display_name=sub.display_name,
        template_path=sub.template_path,
        pipeline_root=sub.pipeline_root,
        parameter_values=sub.parameter_values,
        labels=sub.labels,
        project=sub.project,
        location=sub.location,
        credentials=credentials,
        enable_caching=True,
    )


def submit(job: PipelineJob, sub: Submission) -> str:
    """Start the run on Vertex AI; its resource name. Errors of the service are InfraError."""
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    try:
        job.submit(service_account=sub.service_account or None)
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        raise InfraError(
            f"Vertex AI refused the pipeline run in project {sub.project!r}, region "
            f"{sub.location!r}: {exc}"
        ) from None
    return str(job.resource_name)


def _required(cfg: EnvironmentConfig, key: str, raw: str) -> str:
    value = expand_variables(raw)
    if not value or _UNSET.search(value):
        variable = _VARIABLES.get(key)
        hint = f" (set {variable} in the environment, or write it there)" if variable else ""
        _refuse(cfg, key, f"required to submit to Vertex AI, got {value!r}{hint}")
    return value


def _refuse(cfg: EnvironmentConfig, key: str, message: str) -> NoReturn:
    raise ConfigError(f"{source_of(cfg, key)}: {key}: {message}")


def _read_compiled(cfg: EnvironmentConfig, path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{display(path)} does not exist: run `mlops compile --env {cfg.name}` first"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{display(path)} is not a compiled pipeline: {exc}") from None
    if not isinstance(spec, dict) or "pipelineSpec" not in spec:
        raise ConfigError(f"{display(path)} is not a compiled pipeline (no pipelineSpec)")
    return spec
