"""Environment configuration: a shared base, shared layers, and a thin overlay per environment.

`environments/base/config.yaml` holds what every environment shares, `environments/<layer>.yaml`
what several share (`extends: cloud` in staging and prod), and `environments/<env>/config.yaml`
only what differs (`core.config_layers` merges them). The merged result is checked against the
typed models of `core.config_models`, so a typo, a wrong type or an impossible value fails at
load time with the file and key path that caused it, not somewhere deep inside a pipeline run.
Editors check the same rules as you type, from `environments/config.schema.json`
(`core.config_schema`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import typing
from pathlib import Path
from typing import Any

from pydantic import Field, StrictStr, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from core import beam_args, image_ref, metrics
from core.config_errors import config_error, where
from core.config_layers import BASE_NAME, CONFIG_FILE, files_of, has_key, merge, read_yaml
from core.config_models import (
    ORAS_IMAGE,
    STRICT,
    BatchingConfig,
    ContinuousTrainingConfig,
    DataConfig,
    DeployConfig,
    DriftConfig,
    EnvironmentValues,
    EvaluationConfig,
    LoadTestConfig,
    OrchestrationConfig,
    PathsConfig,
    RolloutConfig,
    ServingConfig,
    SloConfig,
    TrainingConfig,
)
from core.errors import ConfigError
from core.paths import ENVIRONMENTS_DIR, REPO_ROOT
from core.rollout_rules import rollout_problems
from core.uris import display, is_remote, join_uri, request_log_store_problem

__all__ = [
    "BASE_NAME",
    "CONFIG_FILE",
    "ENVIRONMENTS_DIR",
    "ORAS_IMAGE",
    "REPO_ROOT",
    "BatchingConfig",
    "ContinuousTrainingConfig",
    "DataConfig",
    "DeployConfig",
    "DriftConfig",
    "EnvironmentConfig",
    "EvaluationConfig",
    "LoadTestConfig",
    "OrchestrationConfig",
    "PathsConfig",
    "RolloutConfig",
    "ServingConfig",
    "SloConfig",
    "TrainingConfig",
    "available_environments",
    "defaulted_variables",
    "expand_variables",
    "load",
    "on_github_actions",
    "promotion_order",
    "show_path",
    "source_of",
]

_VALUES = TypeAdapter(EnvironmentValues)


@dataclass(frozen=True, config=STRICT)
class EnvironmentConfig(EnvironmentValues):
    """One loaded environment: the merged values plus what the loader knows about them."""

    name: StrictStr = Field(description="the environment: its folder in environments/")
    # The files that supplied the values, bottom first, for messages raised after loading.
    sources: tuple[str, ...] = ()
    # Local folder for this environment's rendered serving files, server state and reports:
    # build/<env>, or the --output folder.
    work_dir: str = ""
    # The variables of paths.model_store that took their `:-default` here (core.registry_setup
    # tells a placeholder namespace from a configured one by them).
    store_defaults: tuple[str, ...] = ()

    @property
    def model_store_dir(self) -> str:
        """`<paths.model_store>/<model_name>`: one version per numbered folder or tag."""
        unset = _UNSET_VAR.findall(self.paths.model_store)
        if unset:
            key = (
                "paths.ci_model_store"
                if on_github_actions() and self.paths.ci_model_store
                else "paths.model_store"
            )
            hint = (
                " (GitHub Actions sets GITHUB_REPOSITORY; locally `export "
                "GITHUB_REPOSITORY=owner/repo`, or point MODEL_REGISTRY at another registry)"
                if "GITHUB_REPOSITORY" in unset
                else ""
            )
            raise ConfigError(
                f"{source_of(self, key)}: {key} "
                f"{self.paths.model_store!r} needs {', '.join(unset)} set in the environment" + hint
            )
        return join_uri(self.paths.model_store, self.model_name)


def source_of(cfg: EnvironmentConfig, key_path: str) -> str:
    """The file (as messages show it) that set `key_path` for `cfg`: the topmost that has it."""
    for source in reversed(cfg.sources):
        try:
            if has_key(read_yaml(Path(source)), key_path):
                return source
        except (ConfigError, OSError):
            continue
    return cfg.sources[-1] if cfg.sources else cfg.name


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_UNSET_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_variables(value: str) -> str:
    """`${NAME}` and `${NAME:-default}` from the process environment, one level deep.

    An unset `${NAME}` stays as it is, so the error comes where the value is used and can say
    which variable to set; loading an environment that this machine will not use still works.
    """

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = _lookup(name)
        if found:
            return found
        return default if default is not None else match.group(0)

    return _VAR.sub(one, value)


def defaulted_variables(value: str) -> tuple[str, ...]:
    """The `${NAME:-default}` variables of `value` that this machine leaves to their default."""
    return tuple(
        m.group(1)
        for m in _VAR.finditer(value)
        if m.group(2) is not None and not _lookup(m.group(1))
    )


def _lookup(name: str) -> str:
    """A variable's value here; GITHUB_REPOSITORY also from a GitHub `origin` remote."""
    return os.environ.get(name, "") or (_origin_repository() if name == "GITHUB_REPOSITORY" else "")


@functools.lru_cache(maxsize=1)
def _origin_repository() -> str:
    """owner/repo of a GitHub `origin` remote, so a laptop clone resolves the same registry
    namespace its repository's workflows use; empty when there is none. Asked once per
    process: every command loads several environments."""
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
    files = files_of(environments_dir, env)
    merged: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for path, content in files:
        merge(merged, content, path, origin)
    try:
        values = _VALUES.validate_python(merged)
    except ValidationError as exc:
        layers = [path for path, _ in files if path.parent == environments_dir]
        raise config_error(exc, EnvironmentValues, origin, overlay_path, layers) from None
    cfg = EnvironmentConfig(
        name=env,
        sources=tuple(_show(path) for path, _ in files),
        **{f.name: getattr(values, f.name) for f in dataclasses.fields(values)},
    )
    cfg = _relocate(cfg, environments_dir.parent, data_root, output_root)
    _check_cross_fields(cfg, origin, overlay_path)
    _check_slices(cfg, origin, overlay_path)
    promotion_order(environments_dir)
    return cfg


_show = display


show_path = _show  # for messages elsewhere: relative to the working directory when inside it


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
    store_defaults = defaulted_variables(store)
    if output_root:
        out = absolute(output_root)
        paths = PathsConfig(
            pipeline_root=join_uri(out, "pipeline"),
            model_store=join_uri(out, "model_store"),
            metadata=join_uri(out, "metadata.sqlite"),
        )
    work_dir = absolute(output_root) if output_root else str(repo_root / "build" / cfg.name)
    paths = _local_defaults(paths, cfg.orchestration.runner, work_dir)
    paths = PathsConfig(
        pipeline_root=absolute(paths.pipeline_root),
        model_store=absolute(paths.model_store),
        metadata=absolute(paths.metadata),
        ci_model_store=cfg.paths.ci_model_store,
    )
    compiled = cfg.orchestration.compiled_pipeline
    orchestration = dataclasses.replace(
        cfg.orchestration,
        compiled_pipeline=absolute(compiled),
        image=expand_variables(cfg.orchestration.image),
    )
    loadtest = dataclasses.replace(cfg.loadtest, rows_file=absolute(cfg.loadtest.rows_file))
    request_log = dataclasses.replace(
        cfg.monitoring.request_log,
        store=absolute(expand_variables(cfg.monitoring.request_log.store)),
    )
    monitoring = dataclasses.replace(cfg.monitoring, request_log=request_log)
    return dataclasses.replace(
        cfg,
        monitoring=monitoring,
        data=data,
        paths=paths,
        orchestration=orchestration,
        work_dir=work_dir,
        loadtest=loadtest,
        store_defaults=() if output_root else store_defaults,
    )


# What a local-runner environment gets for each paths.* key it leaves out, under build/<env>/.
LOCAL_PATHS = {
    "pipeline_root": "pipeline",
    "model_store": "model_store",
    "metadata": "metadata.sqlite",
}


def _local_defaults(paths: PathsConfig, runner: str, work_dir: str) -> PathsConfig:
    """A local run's paths that no file set, under build/<env>/; kubeflow_v2 runs write to
    buckets this machine cannot guess, so they keep the gap and `_check_cross_fields` names it."""
    if runner != "local":
        return paths
    derived = {
        key: join_uri(work_dir, leaf)
        for key, leaf in LOCAL_PATHS.items()
        if not getattr(paths, key)
    }
    return dataclasses.replace(paths, **derived)


def _check_cross_fields(cfg: EnvironmentConfig, origin: dict[str, Path], overlay: Path) -> None:
    """Rules that span several keys."""

    def fail(key_path: str, message: str) -> typing.NoReturn:
        raise ConfigError(f"{where(origin, key_path, overlay)}: {key_path}: {message}")

    if "{SPAN}" not in cfg.data.input_pattern:
        fail(
            "data.input_pattern",
            f"must contain {{SPAN}} so new data can arrive as new spans, "
            f"got {cfg.data.input_pattern!r}",
        )
    serving = cfg.serving
    if serving.rest_port == serving.grpc_port:
        fail("serving.grpc_port", f"must differ from serving.rest_port ({serving.rest_port})")
    request_log = cfg.monitoring.request_log
    store_problem = request_log_store_problem(request_log.store)
    if store_problem:
        fail("monitoring.request_log.store", f"{store_problem}, got {request_log.store!r}")
    if request_log.store and not request_log.fields:
        fail(
            "monitoring.request_log.fields",
            "must name the input fields a sample may keep when monitoring.request_log.store "
            f"is set ({request_log.store!r}); an empty store turns sampling off",
        )
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
    ev = cfg.evaluation
    if metrics.lower_is_better(ev.metric):
        if ev.upper_bound is None:
            fail("evaluation.upper_bound", f"required for {ev.metric} (lower is better)")
        if ev.lower_bound is not None:
            fail(
                "evaluation.lower_bound",
                f"not for {ev.metric}, where lower is better: set evaluation.upper_bound",
            )
    else:
        if ev.lower_bound is None:
            fail("evaluation.lower_bound", f"required for {ev.metric} (higher is better)")
        if ev.upper_bound is not None:
            fail(
                "evaluation.upper_bound",
                f"not for {ev.metric}, where higher is better: set evaluation.lower_bound",
            )
        # A classification metric is a fraction: a bound or a drop outside [0, 1] is a typo.
        if ev.lower_bound < 0.0:
            fail("evaluation.lower_bound", f"must be >= 0 for {ev.metric}, got {ev.lower_bound}")
        if ev.lower_bound > 1.0:
            fail("evaluation.lower_bound", f"must be <= 1 for {ev.metric}, got {ev.lower_bound}")
        if ev.max_regression > 1.0:
            fail(
                "evaluation.max_regression",
                f"must be <= 1 for {ev.metric}, got {ev.max_regression}",
            )
    ct = cfg.continuous_training
    if metrics.lower_is_better(ev.metric):
        if ct.decay_ceiling is None:
            fail(
                "continuous_training.decay_ceiling",
                f"required for {ev.metric} (lower is better): retrain when the released "
                f"model's {ev.metric} rises above it",
            )
        if ct.decay_floor is not None:
            fail(
                "continuous_training.decay_floor",
                f"not for {ev.metric}, where lower is better: set "
                f"continuous_training.decay_ceiling",
            )
    else:
        if ct.decay_floor is None:
            fail("continuous_training.decay_floor", f"required for {ev.metric} (higher is better)")
        if ct.decay_ceiling is not None:
            fail(
                "continuous_training.decay_ceiling",
                f"not for {ev.metric}, where higher is better: set continuous_training.decay_floor",
            )
        if not 0.0 <= ct.decay_floor <= 1.0:
            fail(
                "continuous_training.decay_floor",
                f"must be between 0 and 1 for {ev.metric}, got {ct.decay_floor}",
            )
    for key_path, message in rollout_problems(cfg.rollout):
        fail(key_path, message)
    orch = cfg.orchestration
    if orch.runner == "kubeflow_v2":
        for key, what in (
            ("pipeline_root", "a bucket URI for the pipeline's artifacts (gs://BUCKET/...)"),
            ("model_store", "where the Pusher publishes (oci://REGISTRY/NAMESPACE or gs://...)"),
        ):
            if not getattr(cfg.paths, key):  # unset anywhere: the overlay is where it belongs
                raise ConfigError(
                    f"{_show(overlay)}: paths.{key}: required value is missing: the "
                    f"kubeflow_v2 runner needs {what}"
                )
    if orch.runner == "kubeflow_v2" and cfg.data.window_spans != 1:
        fail(
            "data.window_spans",
            f"must be 1 with orchestration.runner kubeflow_v2 (Vertex AI "
            f"compiles no span-window resolver in TFX 1.16), got "
            f"{cfg.data.window_spans}",
        )
    for problem in beam_args.parse(orch.beam_args)[1]:
        key = "orchestration.beam_args" + ("" if problem.index is None else f"[{problem.index}]")
        fail(key, problem.message)
    if orch.runner == "kubeflow_v2":
        if not orch.image:
            fail("orchestration.image", "the kubeflow_v2 runner needs the pipeline's image")
        if not image_ref.is_pinned(orch.image):
            fail("orchestration.image", image_ref.unpinned_message(orch.image))
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
                f"{where(origin, key_path, overlay)}: {key_path}: "
                f"{name!r} is not a feature of the schema "
                f"({_show(SCHEMA_FILE)}; features: {', '.join(known)})"
            )


def _promote_from(environments_dir: Path, env: str) -> tuple[Any, Path]:
    """deploy.promote_from of one environment as written (the topmost file that sets it)."""
    for path, content in reversed(files_of(environments_dir, env)):
        deploy = content.get("deploy")
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
        source[name] = value if isinstance(value, str) else ""  # load reports a wrong type

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
