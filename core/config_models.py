"""The typed shape of an environment's configuration: one pydantic dataclass per section.

pydantic checks types, bounds, patterns and choices, and refuses unknown keys (extra="forbid");
`core.config_errors` turns what it finds into the file, key path and value a person edits. The
types are strict, so `"5"` is not an integer and `true` is not a number, as YAML users expect.
They stay dataclasses so callers keep `dataclasses.replace` and `dataclasses.asdict`, and the
JSON Schema for editors (`core.config_schema`) comes from the same classes.

Rules that span several keys (ports that differ, a kubeflow runner's image) are checked after
loading, in `core.config`, so a config built in code (tests, renderers) can still hold them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic.dataclasses import dataclass

from core import metrics

# The ORAS CLI v1.3.0 image, by digest: the init container that pulls models in the cluster.
ORAS_IMAGE = (
    "ghcr.io/oras-project/oras:v1.3.0@sha256:"
    "6ce045ce069a89934d6666b8b49f9c4c0145201bd6de6dbe2aee267814c55468"
)
NAME_PATTERN = r"^[a-z][a-z0-9-]*$"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9_]+$"

# Unknown keys are errors, and infinities or NaN are not numbers a threshold can use.
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


@dataclass(frozen=True, config=STRICT)
class DataConfig:
    """Where raw data lives. New data arrives as a new span directory matching `input_pattern`."""

    root: StrictStr = Field(description="directory (or bucket URI) holding the span folders")
    input_pattern: StrictStr = Field(description="glob below root; {SPAN} marks the span number")
    train_buckets: StrictInt = Field(ge=1, description="hash buckets for the train split")
    eval_buckets: StrictInt = Field(ge=1, description="hash buckets for the eval split")
    window_spans: StrictInt = Field(
        default=1, ge=1, description="train on the newest K spans; evaluate on the newest"
    )
    min_examples: StrictInt = Field(
        default=1,
        ge=1,
        description="the newest span must hold at least this many rows or the run stops "
        "before Transform",
    )


@dataclass(frozen=True, config=STRICT)
class PathsConfig:
    """Where a run writes: pipeline artifacts, ML Metadata, and the model store serving reads.

    A local-runner environment may leave all three out: they default to folders under
    build/<env>/, so a new environment works before anyone decides where its files go.
    """

    pipeline_root: StrictStr = Field(
        default="",
        description="pipeline artifacts: a folder or bucket URI; default build/<env>/pipeline "
        "(local runner; kubeflow_v2 must set a bucket URI)",
    )
    model_store: StrictStr = Field(
        default="",
        description="models are pushed to <model_store>/<model_name>: a folder, "
        "gs:// or s3:// bucket, or oci://REGISTRY/NAMESPACE; default build/<env>/model_store "
        "(local runner; kubeflow_v2 must set one)",
    )
    metadata: StrictStr = Field(
        default="",
        description="SQLite ML Metadata file for local runs; default build/<env>/metadata.sqlite",
    )
    ci_model_store: StrictStr = Field(
        default="",
        description="used instead of model_store on GitHub Actions runners "
        "(GITHUB_ACTIONS=true), whose disks vanish with the job",
    )


@dataclass(frozen=True, config=STRICT)
class TrainingConfig:
    """The Trainer's budget and the network's shape."""

    train_steps: StrictInt = Field(ge=1)
    eval_steps: StrictInt = Field(ge=1)
    batch_size: StrictInt = Field(ge=1)
    learning_rate: StrictFloat = Field(gt=0.0, le=10.0)
    seed: StrictInt = Field(ge=0)
    early_stopping_patience: StrictInt = Field(
        ge=1, description="epochs without improvement before stopping"
    )
    hidden_units: list[StrictInt] = Field(default_factory=lambda: [64, 32])


@dataclass(frozen=True, config=STRICT)
class EvaluationConfig:
    """Model validation: an absolute bound and a maximum regression against the blessed baseline.

    A metric that rises as the model improves (see core.metrics) takes `lower_bound`; an error
    such as RMSE takes `upper_bound`. `core.config` refuses the other one, or neither.
    """

    metric: Literal["auc", "binary_accuracy", "precision", "recall", "accuracy", "rmse"]
    max_regression: StrictFloat = Field(
        ge=0.0, description="allowed worsening vs the baseline model, in the metric's units"
    )
    lower_bound: StrictFloat | None = Field(
        default=None, description="floor on the overall slice (metrics where higher is better)"
    )
    upper_bound: StrictFloat | None = Field(
        default=None, ge=0.0, description="ceiling on the overall slice (errors such as rmse)"
    )
    slices: list[StrictStr] = Field(
        default_factory=list, description="raw features to slice metrics by"
    )

    @property
    def bound(self) -> float:
        """The bound that applies to `metric` (checked present at config load)."""
        value = self.upper_bound if metrics.lower_is_better(self.metric) else self.lower_bound
        if value is None:
            raise ValueError(f"evaluation: {self.metric} needs its bound")
        return value


@dataclass(frozen=True, config=STRICT)
class DriftConfig:
    """The drift gate: the newest span against the spans the released model was trained on.

    Per-feature measures and thresholds live in models/schema/drift.yaml, next to the schema.
    """

    mode: Literal["stop", "warn"] = Field(
        description="stop: drift stops the run before Transform; "
        "warn: the run goes on and the summary says so"
    )


@dataclass(frozen=True, config=STRICT)
class ContinuousTrainingConfig:
    """What `mlops ct check` weighs besides new spans and drift.

    Like evaluation's bound, decay's follows evaluation.metric (core.metrics): `decay_floor` for a
    metric that rises as the model improves, `decay_ceiling` for an error such as rmse; config
    load refuses the other one, or neither.
    """

    max_release_age_days: StrictFloat = Field(
        gt=0.0, description="retrain when the release is older than this"
    )
    decay_floor: StrictFloat | None = Field(
        default=None,
        description="retrain when the released model's evaluation.metric on the newest "
        "labelled span is below this (metrics where higher is better)",
    )
    decay_ceiling: StrictFloat | None = Field(
        default=None,
        ge=0.0,
        description="retrain when the released model's evaluation.metric on the newest "
        "labelled span is above this (errors such as rmse)",
    )

    def decay_bound(self, metric: str) -> float:
        """The bound that applies to `metric`: a floor, or a ceiling for an error such as rmse
        (checked present at config load)."""
        value = self.decay_ceiling if metrics.lower_is_better(metric) else self.decay_floor
        if value is None:
            raise ValueError(f"continuous_training: {metric} needs its decay bound")
        return value


@dataclass(frozen=True, config=STRICT)
class VertexConfig:
    """Where `mlops submit` runs a kubeflow_v2 pipeline on Vertex AI Pipelines (`${VAR}` works:
    CI sets them from repository variables)."""

    project: StrictStr = Field(default="", description="GCP project id")
    region: StrictStr = Field(default="", description="Vertex AI region, e.g. us-central1")
    service_account: StrictStr = Field(
        default="", description="service account the pipeline's jobs run as (default: Compute's)"
    )
    parameters: dict[StrictStr, StrictStr | StrictInt | StrictFloat | StrictBool] = Field(
        default_factory=dict, description="values for the compiled pipeline's parameters"
    )


@dataclass(frozen=True, config=STRICT)
class OrchestrationConfig:
    """Which engine runs the pipeline and its Beam jobs."""

    runner: Literal["local", "kubeflow_v2"]
    beam_args: list[StrictStr] = Field(
        default_factory=list,
        description="Beam PipelineOptions flags (--name=value), checked against Beam's own",
    )
    image: StrictStr = Field(
        default="", description="pipeline image for kubeflow_v2 runs, as IMAGE@sha256:<digest>"
    )
    vertex: VertexConfig = Field(default_factory=VertexConfig, description=VertexConfig.__doc__)
    compiled_pipeline: StrictStr = Field(
        default="", description="where `mlops compile` writes the JSON"
    )


@dataclass(frozen=True, config=STRICT)
class BatchingConfig:
    """TF Serving's server-side batching (--enable_batching with a batching parameters file)."""

    enabled: StrictBool = False
    max_batch_size: StrictInt = Field(default=32, ge=1)
    batch_timeout_micros: StrictInt = Field(default=1000, ge=0)
    num_batch_threads: StrictInt = Field(
        default=2, ge=1, description="upstream advice: the number of cores"
    )
    max_enqueued_batches: StrictInt = Field(default=100, ge=1)
    allowed_batch_sizes: list[StrictInt] = Field(default_factory=list)


@dataclass(frozen=True, config=STRICT)
class ServingConfig:
    """How TF Serving serves this environment's model (rendered into its config files)."""

    image: StrictStr = Field(
        description="TF Serving image; tag pinned to the training TensorFlow minor"
    )
    rest_port: StrictInt = Field(ge=1, le=65535)
    grpc_port: StrictInt = Field(ge=1, le=65535)
    version_policy: Literal["latest", "specific"] = Field(
        description="latest: serve the newest pushed versions; specific: the released version(s)"
    )
    host: StrictStr = Field(
        default="127.0.0.1", description="address the local server binds and clients use"
    )
    num_versions: StrictInt = Field(
        default=1, ge=1, description="versions kept loaded under `latest`"
    )
    config_poll_seconds: StrictInt = Field(
        default=5, ge=1, description="how often the model config is re-read"
    )
    file_system_poll_seconds: StrictInt = Field(
        default=1, ge=1, description="how often new versions are seen"
    )
    readiness_timeout_seconds: StrictInt = Field(default=120, ge=1)
    monitoring_path: StrictStr = "/monitoring/prometheus/metrics"
    max_request_bytes: StrictInt = Field(default=4 * 1024 * 1024, ge=1024)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)


@dataclass(frozen=True, config=STRICT)
class SloConfig:
    """What a load test must measure for the model to be promoted out of this environment."""

    p95_ms: StrictFloat = Field(gt=0.0)
    p99_ms: StrictFloat = Field(gt=0.0)
    max_failure_ratio: StrictFloat = Field(ge=0.0, le=1.0)
    min_rps: StrictFloat = Field(ge=0.0)


@dataclass(frozen=True, config=STRICT)
class LoadTestConfig:
    """The locust gate: load shape, the rows it sends, and the SLOs it enforces."""

    users: StrictInt = Field(ge=1)
    spawn_rate: StrictFloat = Field(gt=0.0, description="users started per second")
    run_seconds: StrictInt = Field(ge=1, description="measured duration, after the warm-up")
    slo: SloConfig = Field(description="what the load test must measure to pass")
    warmup_seconds: StrictInt = Field(
        default=5, ge=0, description="load before the figures start counting"
    )
    rows: StrictInt = Field(
        default=500, ge=1, description="evaluation rows the users cycle through"
    )
    rows_file: StrictStr = Field(
        default="",
        description="CSV of rows to send where this machine has no evaluation split of the "
        "environment's pipeline",
    )


@dataclass(frozen=True, config=STRICT)
class DeployConfig:
    """Where and how the environment runs in Kubernetes, and where its releases come from."""

    promote_from: StrictStr = Field(
        description="the environment a release must come from; empty: the pipeline's own output"
    )
    namespace: StrictStr = Field(pattern=NAME_PATTERN)
    replicas: StrictInt = Field(ge=1)
    max_replicas: StrictInt = Field(ge=1)
    target_cpu_utilization: StrictInt = Field(ge=1, le=100)
    min_available: StrictInt = Field(
        ge=0, description="PodDisruptionBudget: pods kept during disruptions"
    )
    cpu_request: StrictStr = Field(description="per pod, e.g. 500m")
    memory_request: StrictStr = Field(description="per pod, e.g. 1Gi")
    cpu_limit: StrictStr = Field(description="per pod")
    memory_limit: StrictStr = Field(description="per pod")
    sync: Literal["automated", "manual"] = Field(description="Argo CD sync policy")
    repo_url: StrictStr = Field(
        default="",
        description="the https URL of the Git repository Argo CD reads; empty: the Git remote "
        "origin's, normalised to https",
    )
    target_revision: StrictStr = "main"
    model_base_path: StrictStr = Field(
        default="",
        description="where pods read a bucket store; default paths.model_store/<model_name>",
    )
    oras_image: StrictStr = Field(
        default=ORAS_IMAGE,
        description="init container that pulls a registry artifact by digest; pin it by digest",
    )
    model_pull_secret: StrictStr = Field(
        default="",
        description="Secret (kubernetes.io/dockerconfigjson) for a private registry; empty: none",
    )
    service_account: StrictStr = Field(
        default="",
        description="serviceAccountName, e.g. for Workload Identity with gs:// stores; "
        "empty: default",
    )


@dataclass(frozen=True, config=STRICT)
class RetentionConfig:
    """What `mlops gc` keeps in the registry store besides every version a release record names:
    private GHCR packages are metered, and every push to main publishes a version."""

    keep_candidates: StrictInt = Field(
        default=5,
        ge=0,
        description="newest unreleased versions (candidates) `mlops gc` keeps; older ones go",
    )


@dataclass(frozen=True, config=STRICT)
class CanaryStep:
    """One step of a canary: shift traffic (`set_weight`) or hold (`pause_seconds`), never both."""

    set_weight: StrictInt | None = Field(
        default=None, ge=1, le=100, description="percent of requests sent to the candidate"
    )
    pause_seconds: StrictInt | None = Field(
        default=None,
        ge=0,
        description="hold this long while the analysis runs; 0: until a person promotes",
    )


@dataclass(frozen=True, config=STRICT)
class AnalysisConfig:
    """What the candidate's own TF Serving metrics must show, judged by the AnalysisTemplate
    and by `mlops analyze` with the same queries."""

    max_error_ratio: StrictFloat = Field(
        default=0.01, ge=0.0, le=1.0, description="failed requests / all requests, at most"
    )
    p99_ms: StrictFloat | None = Field(
        default=None, gt=0.0, description="latency p99 ceiling; default loadtest.slo.p99_ms"
    )
    min_requests: StrictInt = Field(
        default=100,
        ge=1,
        description="fewer candidate requests in the window is inconclusive, never a pass",
    )
    window_seconds: StrictInt = Field(
        default=300, ge=10, description="the range the rates and quantiles look back over"
    )
    interval_seconds: StrictInt = Field(
        default=60, ge=1, description="how often the AnalysisTemplate measures"
    )
    failure_limit: StrictInt = Field(
        default=0,
        ge=0,
        description="abort rule: failed measurements tolerated before the canary aborts",
    )
    inconclusive_limit: StrictInt = Field(
        default=3, ge=0, description="inconclusive measurements tolerated before a pause"
    )
    prometheus_address: StrictStr = Field(
        default="http://prometheus-operated.monitoring.svc:9090",
        description="the Prometheus the AnalysisTemplate asks, from inside the cluster",
    )


@dataclass(frozen=True, config=STRICT)
class RolloutConfig:
    """How a new release reaches this environment's traffic: all at once (`none`), mirrored to
    the candidate whose answers are discarded (`shadow`), or in weighted `canary` steps."""

    strategy: Literal["none", "shadow", "canary"] = "none"
    mirror_percent: StrictInt = Field(
        default=10, ge=1, le=100, description="shadow: percent of requests mirrored"
    )
    steps: list[CanaryStep] = Field(
        default_factory=list, description="canary: weights and pauses, in order"
    )
    gateway: StrictStr = Field(
        default="serving-gateway",
        pattern=NAME_PATTERN,
        description="the Gateway API Gateway the HTTPRoute attaches to",
    )
    gateway_namespace: StrictStr = Field(
        default="", description="the Gateway's namespace; empty: deploy.namespace"
    )
    analysis: AnalysisConfig = Field(
        default_factory=AnalysisConfig, description=AnalysisConfig.__doc__
    )


# Keyword-only: sections with defaults (paths) sit among required ones, in the files' order.
@dataclass(frozen=True, config=STRICT)
class AlertsConfig:
    """The PrometheusRule rendered into environments/<env>/manifests/ (`mlops render`).

    p99 latency is held to loadtest.slo.p99_ms and serving drift to models/schema/drift.yaml,
    so an alert and the gate that let the model in judge by the same numbers.
    """

    error_ratio_slo: StrictFloat = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="alert when more than this share of requests fails (any status but OK)",
    )
    window_minutes: StrictInt = Field(
        default=5, ge=1, description="rate window of the recording rules"
    )
    for_minutes: StrictInt = Field(
        default=5, ge=0, description="how long a condition holds before its alert fires"
    )
    no_traffic_minutes: StrictInt = Field(
        default=15, ge=1, description="alert when no request arrived for this long"
    )
    runbook_url: StrictStr = Field(
        default="docs/monitoring.md",
        description="the runbook page; each alert links to its own section (#anchor)",
    )


@dataclass(frozen=True, config=STRICT)
class RequestLogConfig:
    """Live requests sampled by a mirror in front of TF Serving (docs/monitoring.md).

    The samples are the raw rows as sent, so they may hold personal data: `store: ""` turns
    sampling off, and `fields` is the most a sample ever keeps.
    """

    store: StrictStr = Field(
        default="",
        description="where samples land: a folder the request logger appends to, or "
        "oci://REGISTRY/REPOSITORY or gs://BUCKET/PATH, where it publishes each rotated file "
        "(from a local spool) and `mlops monitor` pulls from; empty: no sampling",
    )
    fields: list[StrictStr] = Field(
        default_factory=list, description="the only input fields a sample keeps"
    )
    sample_percent: StrictFloat = Field(
        default=100.0, gt=0.0, le=100.0, description="share of requests mirrored to the logger"
    )
    max_file_bytes: StrictInt = Field(
        default=1024 * 1024, ge=1024, description="a log file is rotated at this size"
    )
    max_files: StrictInt = Field(
        default=10, ge=1, description="rotated files kept; the oldest goes first"
    )
    proxy_port: StrictInt = Field(
        default=8511, ge=1, le=65535, description="`mlops sample`: nginx listens here locally"
    )
    logger_port: StrictInt = Field(
        default=8512, ge=1, le=65535, description="`mlops sample`: the request logger's port"
    )
    window_rows: StrictInt = Field(
        default=2000, ge=1, description="`mlops monitor` compares the newest N samples"
    )
    min_rows: StrictInt = Field(
        default=200, ge=1, description="fewer samples than this: no drift verdict"
    )


# An http(s) URL with a host, no query or fragment (a Pushgateway's base, path prefix allowed).
PUSH_URL_PATTERN = r"^(https?://[A-Za-z0-9.\-\[\]:]+(/[^\s?#]*)?)?$"
# A Prometheus label value that is also one URL path segment.
JOB_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


@dataclass(frozen=True, config=STRICT)
class PushgatewayConfig:
    """Where `mlops monitor` pushes its figures (a Prometheus Pushgateway that Prometheus
    scrapes with honor_labels), so ServingDriftHigh can read them. The group is job,
    environment and model_name: one environment's push never replaces another's."""

    url: StrictStr = Field(
        default="",
        pattern=PUSH_URL_PATTERN,
        description="the Pushgateway's base URL (http:// or https://); empty: no push, the "
        "figures are only written under the work folder's monitor/",
    )
    job: StrictStr = Field(
        default="mlops_monitor",
        pattern=JOB_PATTERN,
        description="the pushed group's job label",
    )
    timeout_seconds: StrictFloat = Field(
        default=10.0, gt=0.0, le=120.0, description="a push that takes longer fails"
    )


@dataclass(frozen=True, config=STRICT)
class MonitoringConfig:
    """Alerts, the dashboard, and serving drift: what watches the served model."""

    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description=AlertsConfig.__doc__)
    request_log: RequestLogConfig = Field(
        default_factory=RequestLogConfig, description=RequestLogConfig.__doc__
    )
    pushgateway: PushgatewayConfig = Field(
        default_factory=PushgatewayConfig, description=PushgatewayConfig.__doc__
    )


# Keyword-only: sections with defaults (paths) sit among required ones, in the files' order.
@dataclass(frozen=True, config=STRICT, kw_only=True)
class EnvironmentValues:
    """Everything the files set: base, then the shared layers named by `extends`, then the
    environment's own overlay, merged key by key."""

    model_name: StrictStr = Field(pattern=MODEL_NAME_PATTERN)
    pipeline_name: StrictStr = Field(pattern=NAME_PATTERN)
    data: DataConfig = Field(description=DataConfig.__doc__)
    paths: PathsConfig = Field(default_factory=PathsConfig, description=PathsConfig.__doc__)
    training: TrainingConfig = Field(description=TrainingConfig.__doc__)
    evaluation: EvaluationConfig = Field(description=EvaluationConfig.__doc__)
    drift: DriftConfig = Field(description=DriftConfig.__doc__)
    continuous_training: ContinuousTrainingConfig = Field(
        description=ContinuousTrainingConfig.__doc__
    )
    orchestration: OrchestrationConfig = Field(description=OrchestrationConfig.__doc__)
    serving: ServingConfig = Field(description=ServingConfig.__doc__)
    loadtest: LoadTestConfig = Field(description=LoadTestConfig.__doc__)
    deploy: DeployConfig = Field(description=DeployConfig.__doc__)
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description=RetentionConfig.__doc__
    )
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description=RolloutConfig.__doc__)
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig, description=MonitoringConfig.__doc__
    )
