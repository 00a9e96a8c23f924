"""TF Serving's config files, rendered from an environment with Jinja2 and checked by parsing.

The model config, the batching parameters and the monitoring config all come from
`environments/<env>/` (and the released version, once there is one). Each rendered file is
parsed with TF Serving's own protos before anything uses it, so a bad overlay fails here with the
file and the reason, not later inside a server that refuses to start.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import jinja2
from google.protobuf import text_format
from google.protobuf.message import Message

from core.config import EnvironmentConfig
from core.errors import ConfigError
from serving.extra_protos import message_class

TEMPLATES = Path(__file__).with_name("templates")
MODELS_FILE = "models.config"
BATCHING_FILE = "batching.config"
MONITORING_FILE = "monitoring.config"
_LABEL_RE = re.compile(r"^[a-zA-Z0-9_]+$")


def jinja_environment(folder: Path) -> jinja2.Environment:
    """Templates that fail on any undefined value instead of rendering an empty string."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


_env = jinja_environment(TEMPLATES)


_M = TypeVar("_M", bound=Message)


def _parse(name: str, text: str, message: _M) -> _M:
    try:
        return text_format.Parse(text, message)
    except text_format.ParseError as exc:
        kind = type(message).__name__
        raise ConfigError(f"rendered {name} is not a valid {kind}: {exc}") from None


def render(
    cfg: EnvironmentConfig,
    base_path: str,
    versions: Sequence[int] = (),
    labels: Mapping[str, int] | None = None,
) -> dict[str, str]:
    """File name -> content. `versions` pins a `specific` policy; empty means `latest`."""
    labels = dict(labels or {})
    s = cfg.serving
    where = f"environments/{cfg.name}"
    if s.version_policy == "specific" and not versions:
        raise ConfigError(
            f"{where}: serving.version_policy is 'specific' but no version was given: promote a "
            f"model to {cfg.name} first (`mlops promote`), or serve one with --version N"
        )
    for label, version in labels.items():
        if not _LABEL_RE.match(label):
            raise ConfigError(f"{where}: version label {label!r} must match [a-zA-Z0-9_]+")
        if versions and version not in versions:
            raise ConfigError(
                f"{where}: version label {label!r} points at version {version}, "
                f"which is not served (served: {', '.join(map(str, versions))})"
            )
    if any(v <= 0 for v in versions):
        raise ConfigError(
            f"{where}: model versions must be positive integers, got {list(versions)}"
        )
    files = {
        MODELS_FILE: _env.get_template("models.config.j2").render(
            env=cfg.name,
            model_name=cfg.model_name,
            base_path=base_path,
            versions=sorted(set(versions)),
            num_versions=s.num_versions,
            labels=labels,
        ),
        MONITORING_FILE: _env.get_template("monitoring.config.j2").render(
            env=cfg.name, path=s.monitoring_path
        ),
    }
    if s.batching.enabled:
        files[BATCHING_FILE] = _env.get_template("batching.config.j2").render(
            env=cfg.name, b=s.batching
        )
    validate(files)
    return files


def validate(files: Mapping[str, str]) -> None:
    """Parse every file with its TF Serving message; raise ConfigError naming the bad one."""
    from tensorflow_serving.config import model_server_config_pb2

    parsed = _parse(MODELS_FILE, files[MODELS_FILE], model_server_config_pb2.ModelServerConfig())
    if not parsed.model_config_list.config:
        raise ConfigError(f"rendered {MODELS_FILE} serves no model")
    _parse(MONITORING_FILE, files[MONITORING_FILE], message_class("MonitoringConfig")())
    if BATCHING_FILE in files:
        batching = _parse(
            BATCHING_FILE, files[BATCHING_FILE], message_class("BatchingParameters")()
        )
        _check_batching(batching)


def allowed_sizes_error(max_batch_size: int, allowed: Sequence[int]) -> str | None:
    """Upstream's model-load check (bundle_factory_util.cc): the last allowed size is the max."""
    if allowed and allowed[-1] != max_batch_size:
        return (
            f"Last entry in allowed_batch_sizes must match max_batch_size; last entry was "
            f"{allowed[-1]}; expected {max_batch_size}"
        )
    return None


def server_flags(
    cfg: EnvironmentConfig, config_dir: str, files: dict[str, str], grpc_port: int, rest_port: int
) -> list[str]:
    """tensorflow_model_server flags; the stand-in accepts the same ones.

    The rendered models.config labels the released version `stable`. Upstream refuses, at start
    and on every reload, a label on a version that is not loaded yet, unless
    --allow_version_labels_for_unavailable_models; without it a fresh server would refuse our
    config. The flag covers new labels only: moving a label to a version that is not loaded is
    still refused, so a label move is two config changes (serve both, then move the label).
    """
    s = cfg.serving
    flags = [
        f"--port={grpc_port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={config_dir}/{MODELS_FILE}",
        "--allow_version_labels_for_unavailable_models=true",
        f"--model_config_file_poll_wait_seconds={s.config_poll_seconds}",
        f"--file_system_poll_wait_seconds={s.file_system_poll_seconds}",
        f"--monitoring_config_file={config_dir}/{MONITORING_FILE}",
    ]
    if BATCHING_FILE in files:
        flags += [
            "--enable_batching=true",
            f"--batching_parameters_file={config_dir}/{BATCHING_FILE}",
        ]
    return flags


def _check_batching(params: Message) -> None:
    """What upstream checks when it loads a model with batching (bundle_factory_util.cc): a
    file that breaks it would make every model version fail to load, so it fails here."""
    max_size = params.max_batch_size.value if params.HasField("max_batch_size") else 1000
    sizes = list(params.allowed_batch_sizes)
    error = allowed_sizes_error(max_size, sizes)
    if error is None and sizes != sorted(set(sizes)):
        error = f"allowed_batch_sizes must increase, got {sizes}"
    if error is not None:
        raise ConfigError(
            f"rendered {BATCHING_FILE}: {error} (serving.batching."
            f"allowed_batch_sizes and serving.batching.max_batch_size)"
        )


def write(files: Mapping[str, str], directory: Path) -> dict[str, Path]:
    """Write atomically: a server polling these files never reads a half-written one."""
    directory.mkdir(parents=True, exist_ok=True)
    if BATCHING_FILE not in files:  # batching turned off: the server must not find the old one
        (directory / BATCHING_FILE).unlink(missing_ok=True)
    paths = {}
    for name, text in files.items():
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, directory / name)
        paths[name] = directory / name
    return paths


def load_model_server_config_text(text: str, name: str = MODELS_FILE):
    from tensorflow_serving.config import model_server_config_pb2

    return _parse(name, text, model_server_config_pb2.ModelServerConfig())


def load_model_server_config(path: Path):
    """Parse a models.config file (what the local stand-in reads)."""
    return load_model_server_config_text(Path(path).read_text(), str(path))
