"""Environment configuration: one shared base plus a thin overlay per environment.

`environments/base/config.yaml` holds what every environment shares;
`environments/<env>/config.yaml` holds only what differs. The merged result is checked field by
field against the dataclasses below, so a typo, a wrong type or an impossible value fails at load
time with the file and key path that caused it, not somewhere deep inside a pipeline run.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from core.errors import ConfigError
from core.paths import ENVIRONMENTS_DIR, REPO_ROOT
from core.uris import display, is_remote, join_uri

BASE_NAME = "base"
CONFIG_FILE = "config.yaml"
# The ORAS CLI v1.3.0 image, by digest: the init container that pulls models in the cluster.
ORAS_IMAGE = (
    "ghcr.io/oras-project/oras:v1.3.0@sha256:"
    "6ce045ce069a89934d6666b8b49f9c4c0145201bd6de6dbe2aee267814c55468"
)
_NAME_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


def _spec(
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    pattern: re.Pattern[str] | None = None,
    doc: str = "",
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
) -> Any:
    """A dataclass field carrying the bounds the loader enforces."""
    meta = {"min": min, "max": max, "min_exclusive": min_exclusive, "pattern": pattern, "doc": doc}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    """Where raw data lives. New data arrives as a new span directory matching `input_pattern`."""

    root: str = _spec(doc="directory (or bucket URI) holding the span folders")
    input_pattern: str = _spec(doc="glob below root; {SPAN} marks the span number")
    train_buckets: int = _spec(min=1, doc="hash buckets for the train split")
    eval_buckets: int = _spec(min=1, doc="hash buckets for the eval split")
    window_spans: int = _spec(
        default=1, min=1, doc="train on the newest K spans; evaluate on the newest"
    )
    min_examples: int = _spec(
        default=1,
        min=1,
        doc="the newest span must hold at least this many rows or the run stops before Transform",
    )


@dataclass(frozen=True)
class PathsConfig:
    """Where a run writes: pipeline artifacts, ML Metadata, and the model store serving reads."""

    pipeline_root: str = _spec()
    model_store: str = _spec(
        doc="models are pushed to <model_store>/<model_name>: a folder, "
        "gs:// or s3:// bucket, or oci://REGISTRY/NAMESPACE"
    )
    metadata: str = _spec(default="", doc="SQLite ML Metadata file for local runs")
    ci_model_store: str = _spec(
        default="",
        doc="used instead of model_store on GitHub Actions "
        "runners (GITHUB_ACTIONS=true), whose disks "
        "vanish with the job",
    )


@dataclass(frozen=True)
class TrainingConfig:
    train_steps: int = _spec(min=1)
    eval_steps: int = _spec(min=1)
    batch_size: int = _spec(min=1)
    learning_rate: float = _spec(min=0.0, min_exclusive=True, max=10.0)
    seed: int = _spec(min=0)
    early_stopping_patience: int = _spec(min=1, doc="epochs without improvement before stopping")
    hidden_units: list[int] = _spec(default_factory=lambda: [64, 32])


@dataclass(frozen=True)
class EvaluationConfig:
    """Model validation: an absolute floor and a maximum regression against the blessed baseline."""

    metric: Literal["auc", "binary_accuracy", "precision", "recall"] = _spec()
    lower_bound: float = _spec(min=0.0, max=1.0, doc="value threshold on the overall slice")
    max_regression: float = _spec(min=0.0, max=1.0, doc="allowed drop vs the baseline model")
    slices: list[str] = _spec(default_factory=list, doc="raw features to slice metrics by")


@dataclass(frozen=True)
class DriftConfig:
    """The drift gate: the newest span against the spans the released model was trained on.

    Per-feature measures and thresholds live in models/schema/drift.yaml, next to the schema.
    """

    mode: Literal["stop", "warn"] = _spec(
        doc="stop: drift stops the run before Transform; "
        "warn: the run goes on and the summary says so"
    )


@dataclass(frozen=True)
class ContinuousTrainingConfig:
    """What `mlops ct check` weighs besides new spans and drift."""

    decay_floor: float = _spec(
        min=0.0,
        max=1.0,
        doc="retrain when the released model's "
        "evaluation.metric on the newest labelled "
        "span is below this",
    )
    max_release_age_days: float = _spec(
        min=0.0, min_exclusive=True, doc="retrain when the release is older than this"
    )


@dataclass(frozen=True)
class OrchestrationConfig:
    """Which engine runs the pipeline and its Beam jobs."""

    runner: Literal["local", "kubeflow_v2"] = _spec()
    beam_args: list[str] = _spec(default_factory=list)
    image: str = _spec(default="", doc="container image for kubeflow_v2 runs")
    compiled_pipeline: str = _spec(default="", doc="where `mlops compile` writes the JSON")


@dataclass(frozen=True)
class BatchingConfig:
    """TF Serving's server-side batching (--enable_batching with a batching parameters file)."""

    enabled: bool = _spec(default=False)
    max_batch_size: int = _spec(default=32, min=1)
    batch_timeout_micros: int = _spec(default=1000, min=0)
    num_batch_threads: int = _spec(default=2, min=1, doc="upstream advice: the number of cores")
    max_enqueued_batches: int = _spec(default=100, min=1)
    allowed_batch_sizes: list[int] = _spec(default_factory=list)


@dataclass(frozen=True)
class ServingConfig:
    """How TF Serving serves this environment's model (rendered into its config files)."""

    image: str = _spec(doc="TF Serving image; tag pinned to the training TensorFlow minor")
    rest_port: int = _spec(min=1, max=65535)
    grpc_port: int = _spec(min=1, max=65535)
    version_policy: Literal["latest", "specific"] = _spec(
        doc="latest: serve the newest pushed versions; specific: the released version(s)"
    )
    host: str = _spec(default="127.0.0.1", doc="address the local server binds and clients use")
    num_versions: int = _spec(default=1, min=1, doc="versions kept loaded under `latest`")
    config_poll_seconds: int = _spec(default=5, min=1, doc="how often the model config is re-read")
    file_system_poll_seconds: int = _spec(default=1, min=1, doc="how often new versions are seen")
    readiness_timeout_seconds: int = _spec(default=120, min=1)
    monitoring_path: str = _spec(default="/monitoring/prometheus/metrics")
    max_request_bytes: int = _spec(default=4 * 1024 * 1024, min=1024)
    batching: BatchingConfig = _spec(default_factory=BatchingConfig)


@dataclass(frozen=True)
class SloConfig:
    """What a load test must measure for the model to be promoted out of this environment."""

    p95_ms: float = _spec(min=0.0, min_exclusive=True)
    p99_ms: float = _spec(min=0.0, min_exclusive=True)
    max_failure_ratio: float = _spec(min=0.0, max=1.0)
    min_rps: float = _spec(min=0.0)


@dataclass(frozen=True)
class LoadTestConfig:
    """The locust gate: load shape, the rows it sends, and the SLOs it enforces."""

    users: int = _spec(min=1)
    spawn_rate: float = _spec(min=0.0, min_exclusive=True, doc="users started per second")
    run_seconds: int = _spec(min=1, doc="measured duration, after the warm-up")
    slo: SloConfig = _spec()
    warmup_seconds: int = _spec(default=5, min=0, doc="load before the figures start counting")
    rows: int = _spec(default=500, min=1, doc="evaluation rows the users cycle through")
    rows_file: str = _spec(
        default="",
        doc="CSV of rows to send where this machine has no "
        "evaluation split of the environment's pipeline",
    )


@dataclass(frozen=True)
class DeployConfig:
    """Where and how the environment runs in Kubernetes, and where its releases come from."""

    promote_from: str = _spec(
        doc="the environment a release must come from; empty: the pipeline's own output"
    )
    namespace: str = _spec(pattern=_NAME_RE)
    replicas: int = _spec(min=1)
    max_replicas: int = _spec(min=1)
    target_cpu_utilization: int = _spec(min=1, max=100)
    min_available: int = _spec(min=0, doc="PodDisruptionBudget: pods kept during disruptions")
    cpu_request: str = _spec()
    memory_request: str = _spec()
    cpu_limit: str = _spec()
    memory_limit: str = _spec()
    sync: Literal["automated", "manual"] = _spec(doc="Argo CD sync policy")
    repo_url: str = _spec(doc="the Git repository Argo CD reads")
    target_revision: str = _spec(default="main")
    model_base_path: str = _spec(
        default="", doc="where pods read a bucket store; default paths.model_store/<model_name>"
    )
    oras_image: str = _spec(
        default=ORAS_IMAGE,
        doc="init container that pulls a registry artifact by digest; pin it by digest",
    )
    model_pull_secret: str = _spec(
        default="",
        doc="Secret (kubernetes.io/dockerconfigjson) for a private registry; empty: none",
    )
    service_account: str = _spec(
        default="",
        doc="serviceAccountName, e.g. for Workload Identity with gs:// stores; empty: default",
    )


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    model_name: str = _spec(pattern=_MODEL_NAME_RE)
    pipeline_name: str = _spec(pattern=_NAME_RE)
    data: DataConfig = _spec()
    paths: PathsConfig = _spec()
    training: TrainingConfig = _spec()
    evaluation: EvaluationConfig = _spec()
    drift: DriftConfig = _spec()
    continuous_training: ContinuousTrainingConfig = _spec()
    orchestration: OrchestrationConfig = _spec()
    serving: ServingConfig = _spec()
    loadtest: LoadTestConfig = _spec()
    deploy: DeployConfig = _spec()
    # Which file supplied each value, for messages raised after loading.
    sources: tuple[str, ...] = ()
    # Local folder for this environment's rendered serving files, server state and reports:
    # build/<env>, or the --output folder.
    work_dir: str = ""

    @property
    def model_store_dir(self) -> str:
        """`<paths.model_store>/<model_name>`: one version per numbered folder or tag."""
        unset = _UNSET_VAR.findall(self.paths.model_store)
        if unset:
            raise ConfigError(
                f"{self.sources[-1] if self.sources else self.name}: paths.model_store "
                f"{self.paths.model_store!r} needs {', '.join(unset)} set in the environment "
                f"(GitHub Actions sets GITHUB_REPOSITORY; locally `export "
                f"GITHUB_REPOSITORY=owner/repo`, or point MODEL_REGISTRY at another registry)"
            )
        return join_uri(self.paths.model_store, self.model_name)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNSET_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_variables(value: str) -> str:
    """`${NAME}` and `${NAME:-default}` from the process environment, one level deep.

    An unset `${NAME}` stays as it is, so the error comes where the value is used and can say
    which variable to set; loading an environment that this machine will not use still works.
    """

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name, "") or (
            _origin_repository() if name == "GITHUB_REPOSITORY" else ""
        )
        if found:
            return found
        return default if default is not None else match.group(0)

    return _VAR.sub(one, value)


def _origin_repository() -> str:
    """owner/repo of a GitHub `origin` remote, so a laptop clone resolves the same registry
    namespace its repository's workflows use; empty when there is none."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except OSError:
        return ""
    match = re.search(r"github\.com[:/]([\w.-]+/[\w.-]+?)(?:\.git)?/?$", out.stdout.strip())
    return match.group(1) if match and out.returncode == 0 else ""


def on_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def available_environments(environments_dir: Path = ENVIRONMENTS_DIR) -> list[str]:
    return (
        sorted(
            p.name
            for p in environments_dir.iterdir()
            if p.is_dir() and p.name != BASE_NAME and (p / CONFIG_FILE).exists()
        )
        if environments_dir.is_dir()
        else []
    )


def load(
    env: str,
    environments_dir: Path = ENVIRONMENTS_DIR,
    *,
    data_root: str | None = None,
    output_root: str | None = None,
) -> EnvironmentConfig:
    """Load, merge and validate one environment; `data_root`/`output_root` relocate a run."""
    environments_dir = Path(environments_dir)
    overlay_path = environments_dir / env / CONFIG_FILE
    if not overlay_path.exists():
        known = ", ".join(available_environments(environments_dir)) or "none"
        raise ConfigError(
            f"unknown environment {env!r}: {_show(overlay_path)} does not exist "
            f"(environments found: {known})"
        )
    base_path = environments_dir / BASE_NAME / CONFIG_FILE
    merged: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for path in ([base_path] if base_path.exists() else []) + [overlay_path]:
        _merge(merged, _read_yaml(path), path, origin, prefix="")
    values = _build(
        EnvironmentConfig,
        merged,
        origin,
        overlay_path,
        prefix="",
        skip={"name", "sources", "work_dir"},
    )
    cfg = EnvironmentConfig(
        name=env, sources=tuple(_show(p) for p in (base_path, overlay_path) if p.exists()), **values
    )
    cfg = _relocate(cfg, environments_dir.parent, data_root, output_root)
    _check_cross_fields(cfg, origin, overlay_path)
    _check_slices(cfg, origin, overlay_path)
    promotion_order(environments_dir)
    return cfg


_show = display


show_path = _show  # for messages elsewhere: relative to the working directory when inside it


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice (PyYAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in the same mapping",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(), Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{_show(path)}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{_show(path)}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


def _merge(
    into: dict[str, Any], new: dict[str, Any], path: Path, origin: dict[str, Path], prefix: str
) -> None:
    """Deep-merge mappings; lists and scalars in the overlay replace the base's."""
    for key, value in new.items():
        key_path = f"{prefix}{key}"
        if not isinstance(key, str):
            raise ConfigError(f"{_show(path)}: {key_path}: keys must be strings, got {key!r}")
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, path, origin, prefix=f"{key_path}.")
        elif isinstance(value, dict):
            into[key] = {}
            _merge(into[key], value, path, origin, prefix=f"{key_path}.")
        else:
            into[key] = value
        origin[key_path] = path


def _where(origin: dict[str, Path], key_path: str, fallback: Path) -> str:
    return _show(origin.get(key_path, fallback))


def _build(
    cls: type,
    raw: Any,
    origin: dict[str, Path],
    overlay: Path,
    prefix: str,
    skip: set[str] = frozenset(),
) -> dict[str, Any]:
    """Check one mapping against a dataclass and convert it to constructor arguments."""
    here = prefix.rstrip(".") or "(top level)"
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{_where(origin, prefix.rstrip('.'), overlay)}: {here}: expected a "
            f"mapping, got {type(raw).__name__} {raw!r}"
        )
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    for key in raw:
        if key not in fields:
            close = ", ".join(sorted(fields))
            raise ConfigError(
                f"{_where(origin, prefix + key, overlay)}: {prefix}{key}: unknown "
                f"key (allowed here: {close})"
            )
    values = {}
    for name, f in fields.items():
        key_path = prefix + name
        if name not in raw:
            has_default = (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            )
            if has_default:
                continue
            raise ConfigError(
                f"{_show(overlay)}: {key_path}: required value is missing "
                f"(set it here or in the base config)"
            )
        values[name] = _convert(hints[name], raw[name], f.metadata, origin, overlay, key_path)
    return values


def _convert(
    hint: Any, value: Any, meta: Any, origin: dict[str, Path], overlay: Path, key_path: str
) -> Any:
    where = _where(origin, key_path, overlay)

    def fail(expected: str) -> typing.NoReturn:
        raise ConfigError(
            f"{where}: {key_path}: expected {expected}, got {type(value).__name__} {value!r}"
        )

    if dataclasses.is_dataclass(hint):
        return hint(**_build(hint, value, origin, overlay, prefix=key_path + "."))
    origin_type = typing.get_origin(hint)
    if origin_type is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            fail("one of " + ", ".join(repr(c) for c in choices))
        return value
    if origin_type is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            fail(f"a list of {item_type.__name__}")
        return [
            _convert(item_type, v, meta, origin, overlay, f"{key_path}[{i}]")
            for i, v in enumerate(value)
        ]
    if hint is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            fail("a finite number")
    elif hint is str:
        if not isinstance(value, str):
            fail("a string")
        pattern = meta.get("pattern")
        if pattern is not None and not pattern.match(value):
            fail(f"a string matching {pattern.pattern}")
    else:  # pragma: no cover - a field type this loader does not know is a programming error
        raise TypeError(f"unsupported config field type {hint!r} at {key_path}")
    lo, hi = meta.get("min"), meta.get("max")
    if lo is not None and (value < lo or (meta.get("min_exclusive") and value == lo)):
        op = ">" if meta.get("min_exclusive") else ">="
        raise ConfigError(f"{where}: {key_path}: must be {op} {lo}, got {value!r}")
    if hi is not None and value > hi:
        raise ConfigError(f"{where}: {key_path}: must be <= {hi}, got {value!r}")
    return value


def _relocate(
    cfg: EnvironmentConfig, repo_root: Path, data_root: str | None, output_root: str | None
) -> EnvironmentConfig:
    """Resolve relative local paths against the repository and apply --data/--output."""

    def absolute(p: str) -> str:
        return p if not p or is_remote(p) else str((repo_root / p).resolve())

    data = dataclasses.replace(cfg.data, root=absolute(data_root or cfg.data.root))
    store = (
        cfg.paths.ci_model_store
        if on_github_actions() and cfg.paths.ci_model_store
        else cfg.paths.model_store
    )
    paths = dataclasses.replace(cfg.paths, model_store=expand_variables(store))
    if output_root:
        out = absolute(output_root)
        paths = PathsConfig(
            pipeline_root=join_uri(out, "pipeline"),
            model_store=join_uri(out, "model_store"),
            metadata=join_uri(out, "metadata.sqlite"),
        )
    paths = PathsConfig(
        pipeline_root=absolute(paths.pipeline_root),
        model_store=absolute(paths.model_store),
        metadata=absolute(paths.metadata),
        ci_model_store=cfg.paths.ci_model_store,
    )
    compiled = cfg.orchestration.compiled_pipeline
    orchestration = dataclasses.replace(cfg.orchestration, compiled_pipeline=absolute(compiled))
    work_dir = absolute(output_root) if output_root else str(repo_root / "build" / cfg.name)
    loadtest = dataclasses.replace(cfg.loadtest, rows_file=absolute(cfg.loadtest.rows_file))
    return dataclasses.replace(
        cfg,
        data=data,
        paths=paths,
        orchestration=orchestration,
        work_dir=work_dir,
        loadtest=loadtest,
    )


def _check_cross_fields(cfg: EnvironmentConfig, origin: dict[str, Path], overlay: Path) -> None:
    """Rules that span several keys."""

    def fail(key_path: str, message: str) -> typing.NoReturn:
        raise ConfigError(f"{_where(origin, key_path, overlay)}: {key_path}: {message}")

    if "{SPAN}" not in cfg.data.input_pattern:
        fail(
            "data.input_pattern",
            f"must contain {{SPAN}} so new data can arrive as new spans, "
            f"got {cfg.data.input_pattern!r}",
        )
    serving = cfg.serving
    if serving.rest_port == serving.grpc_port:
        fail("serving.grpc_port", f"must differ from serving.rest_port ({serving.rest_port})")
    if not serving.monitoring_path.startswith("/"):
        fail("serving.monitoring_path", f"must start with '/', got {serving.monitoring_path!r}")
    sizes = serving.batching.allowed_batch_sizes
    if sizes and (sizes != sorted(set(sizes)) or sizes[-1] != serving.batching.max_batch_size):
        fail(
            "serving.batching.allowed_batch_sizes",
            f"must increase and end with max_batch_size ({serving.batching.max_batch_size}), "
            f"got {sizes}",
        )
    if cfg.loadtest.slo.p99_ms < cfg.loadtest.slo.p95_ms:
        fail(
            "loadtest.slo.p99_ms",
            f"must be >= loadtest.slo.p95_ms "
            f"({cfg.loadtest.slo.p95_ms}), got {cfg.loadtest.slo.p99_ms}",
        )
    d = cfg.deploy
    if d.max_replicas < d.replicas:
        fail(
            "deploy.max_replicas",
            f"must be >= deploy.replicas ({d.replicas}), got {d.max_replicas}",
        )
    if d.min_available >= d.replicas and d.replicas > 1:
        fail(
            "deploy.min_available",
            f"must be below deploy.replicas ({d.replicas}) or no pod "
            f"can ever be evicted, got {d.min_available}",
        )
    if d.promote_from == cfg.name:
        fail("deploy.promote_from", f"an environment cannot promote from itself ({cfg.name!r})")
    orch = cfg.orchestration
    if orch.runner == "local" and not cfg.paths.metadata:
        fail("paths.metadata", "the local runner needs a SQLite file for ML Metadata")
    if orch.runner == "kubeflow_v2" and cfg.data.window_spans != 1:
        fail(
            "data.window_spans",
            f"must be 1 with orchestration.runner kubeflow_v2 (Vertex AI "
            f"compiles no span-window resolver in TFX 1.16), got "
            f"{cfg.data.window_spans}",
        )
    if orch.runner == "kubeflow_v2":
        if not orch.image:
            fail("orchestration.image", "the kubeflow_v2 runner needs the pipeline's image")
        if not orch.compiled_pipeline:
            fail("orchestration.compiled_pipeline", "the kubeflow_v2 runner needs an output file")


def _check_slices(cfg: EnvironmentConfig, origin: dict[str, Path], overlay: Path) -> None:
    """TFMA slices on raw features: each must be a feature of the curated schema."""
    from core.schema import SCHEMA_FILE, load_schema

    known = sorted(f.name for f in load_schema().feature)
    for i, name in enumerate(cfg.evaluation.slices):
        if name not in known:
            key_path = f"evaluation.slices[{i}]"
            raise ConfigError(
                f"{_where(origin, 'evaluation.slices', overlay)}: {key_path}: "
                f"{name!r} is not a feature of the schema "
                f"({_show(SCHEMA_FILE)}; features: {', '.join(known)})"
            )


def _promote_from(environments_dir: Path, env: str) -> tuple[Any, Path]:
    """deploy.promote_from of one environment as written (overlay over base), and its file."""
    for path in (environments_dir / env / CONFIG_FILE, environments_dir / BASE_NAME / CONFIG_FILE):
        if path.exists():
            deploy = _read_yaml(path).get("deploy")
            if isinstance(deploy, dict) and "promote_from" in deploy:
                return deploy["promote_from"], path
    return "", environments_dir / env / CONFIG_FILE


def promotion_order(environments_dir: Path = ENVIRONMENTS_DIR) -> list[str]:
    """Environments from the pipeline's end to production, following deploy.promote_from.

    Checked whenever any environment loads, because one overlay's edit can break the release
    path of all of them: every deploy.promote_from names a known environment, exactly one
    environment takes the pipeline's output (an empty promote_from), and the chain has no loop.
    """
    environments_dir = Path(environments_dir)
    names = available_environments(environments_dir)
    source: dict[str, str] = {}
    files: dict[str, Path] = {}
    for name in names:
        value, files[name] = _promote_from(environments_dir, name)
        source[name] = value if isinstance(value, str) else ""  # _build reports a wrong type

    def fail(env: str, message: str) -> typing.NoReturn:
        raise ConfigError(f"{_show(files[env])}: deploy.promote_from: {message}")

    for name, src in source.items():
        if src and src not in source:
            fail(
                name,
                f"unknown environment {src!r} for {name} (known: {', '.join(names)}; "
                f"empty for the pipeline's output)",
            )
    roots = [n for n in names if not source[n]]
    if len(roots) > 1:
        fail(
            roots[1],
            f"{' and '.join(map(repr, roots))} both take the pipeline's output "
            f"(empty promote_from); exactly one environment may, the others name "
            f"the environment they take releases from",
        )
    ordered: list[str] = []
    frontier = roots
    while frontier:
        ordered += frontier
        frontier = sorted(n for n in names if source[n] in frontier)
    stuck = [n for n in names if n not in ordered]
    if stuck:  # every environment has one source, so what the pipeline cannot reach is a loop
        loop, env = [], stuck[0]
        while env not in loop:
            loop.append(env)
            env = source[env]
        cycle = [*loop[loop.index(env) :], env]
        fail(
            env,
            f"releases would go round in a loop ({' <- '.join(cycle)}: each takes from "
            f"the next); the chain must start at the environment fed by the pipeline"
            + ("" if roots else " (none has an empty promote_from)"),
        )
    return ordered
