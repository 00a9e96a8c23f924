"""Which model versions are loaded, following a TF Serving model config file and the model store.

This is the loading half of the local TF Serving stand-in. It follows the real server's rules:
only integer-named version directories count; `latest` serves the newest N, `specific` the listed
ones; a new version is loaded before an old one is unloaded, so traffic never finds nothing to
serve; the config file is re-read on a timer, and each read replaces the whole config.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from store import model_store

log = logging.getLogger("serving.standin")

# TF Serving's ModelVersionStatus states, as its REST API spells them.
START, LOADING, AVAILABLE, END = "START", "LOADING", "AVAILABLE", "END"


class ServingError(Exception):
    """An error with TF Serving's status code name (REST and gRPC map it as upstream does)."""

    code = "UNKNOWN"


class NotFound(ServingError, LookupError):
    """Unknown model or version (TF Serving answers 404 / NOT_FOUND)."""

    code = "NOT_FOUND"


class InvalidArgument(ServingError, ValueError):
    """A request the model cannot take (TF Serving answers 400 / INVALID_ARGUMENT)."""

    code = "INVALID_ARGUMENT"


class FailedPrecondition(ServingError):
    """TF Serving's FAILED_PRECONDITION (400 over REST), e.g. a label on an unloaded version."""

    code = "FAILED_PRECONDITION"


class Unavailable(ServingError):
    """TF Serving's UNAVAILABLE (503 over REST), e.g. a full batching queue."""

    code = "UNAVAILABLE"


@dataclass
class Version:
    number: int
    path: Path
    state: str = START
    error: str = ""
    error_code: str = "OK"
    signatures: dict[str, Callable[..., Any]] = field(default_factory=dict)
    signature_defs: dict[str, Any] = field(default_factory=dict)  # SignatureDef protos
    loaded: Any = None

    def predict(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one signature on numpy inputs (called from a worker thread)."""
        import tensorflow as tf

        fn = self.signatures.get(signature_name)
        if fn is None:
            raise InvalidArgument(
                f'Serving signature name: "{signature_name}" not found in signature def'
            )
        try:
            outputs = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        except (
            tf.errors.InvalidArgumentError,
            ValueError,
            TypeError,
            OverflowError,
            UnicodeError,
        ) as exc:
            raise InvalidArgument(
                _tf_error_line(getattr(exc, "message", None) or str(exc))
            ) from None
        except tf.errors.OpError as exc:
            error = ServingError(_tf_error_line(exc.message))
            error.code = type(exc).__name__.removesuffix("Error").upper()
            raise error from None
        return {k: v.numpy() for k, v in outputs.items()}


def _tf_error_line(message: str) -> str:
    """The line of a TensorFlow error that names the problem, not the graph node around it."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("[[") and i > 0:
            return lines[i - 1]
    return lines[-1] if lines else "invalid argument"


@dataclass
class Model:
    name: str
    base_path: Path
    policy: str  # "latest" or "specific"
    num_versions: int = 1
    specific: tuple[int, ...] = ()
    labels: dict[str, int] = field(default_factory=dict)
    versions: dict[int, Version] = field(default_factory=dict)

    def available(self) -> list[Version]:
        return sorted(
            (v for v in self.versions.values() if v.state == AVAILABLE), key=lambda v: v.number
        )


def _load(version: Version) -> None:
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((version.path / "saved_model.pb").read_bytes())
    version.signature_defs = dict(proto.meta_graphs[0].signature_def)
    version.loaded = tf.saved_model.load(str(version.path))
    version.signatures = dict(version.loaded.signatures)


class ModelManager:
    def __init__(
        self,
        config_file: Path,
        executor: Executor,
        *,
        file_system_poll_seconds: float = 1.0,
        config_poll_seconds: float = 0.0,
        allow_labels_for_unavailable: bool = False,
        load_error: str = "",
    ) -> None:
        self.config_file = Path(config_file)
        self.executor = executor
        self.fs_poll = file_system_poll_seconds
        self.config_poll = config_poll_seconds
        self.allow_labels_for_unavailable = allow_labels_for_unavailable
        self.load_error = load_error  # every load fails with it (bad batching parameters)
        self.models: dict[str, Model] = {}
        self._config_mtime = 0.0
        self._last_config_read = 0.0
        self._reload_failed = False

    def _check_labels(self, parsed: Any) -> None:
        """Upstream's ServerCore::UpdateModelVersionLabelMap: a label may only point at a
        version that is AVAILABLE now; with --allow_version_labels_for_unavailable_models, a
        label that is new (or keeps its version) may point anywhere. Moving an existing label
        to a version that is not loaded is always refused: load first, then move the label."""
        for c in parsed.model_config_list.config:
            old = self.models.get(c.name)
            for label, version in c.version_labels.items():
                allowed = False
                if self.allow_labels_for_unavailable:
                    current = old.labels.get(label) if old is not None else None
                    allowed = current is None or current == version
                v = old.versions.get(version) if old is not None else None
                if not allowed and (v is None or v.state != AVAILABLE):
                    raise FailedPrecondition(
                        f"Request to assign label to version {version} of model {c.name}, "
                        f"which is not currently available for inference"
                    )

    def read_config(self) -> None:
        """Replace the model list with the config file's, keeping versions already loaded.
        A config whose labels upstream would refuse raises FailedPrecondition and changes
        nothing."""
        from serving.config_files import load_model_server_config

        parsed = load_model_server_config(self.config_file)
        self._check_labels(parsed)
        fresh: dict[str, Model] = {}
        for c in parsed.model_config_list.config:
            policy = c.model_version_policy.WhichOneof("policy_choice") or "latest"
            model = Model(
                name=c.name,
                base_path=Path(c.base_path),
                policy=policy,
                num_versions=max(1, c.model_version_policy.latest.num_versions),
                specific=tuple(c.model_version_policy.specific.versions),
                labels=dict(c.version_labels),
            )
            old = self.models.get(c.name)
            if old is not None and old.base_path == model.base_path:
                model.versions = old.versions
            fresh[c.name] = model
        self.models = fresh
        self._config_mtime = self.config_file.stat().st_mtime

    def wanted(self, model: Model) -> list[int]:
        present = model_store.versions(model.base_path)
        if model.policy == "specific":
            return [v for v in model.specific if v in present]
        if model.policy == "all":
            return present
        return present[-model.num_versions :]

    async def sync(self) -> None:
        """Load what the policy wants, then unload what it no longer wants."""
        loop = asyncio.get_running_loop()
        for model in list(self.models.values()):
            wanted = self.wanted(model)
            for number in wanted:
                v = model.versions.get(number)
                if v is not None and v.state in (AVAILABLE, LOADING):
                    continue
                if v is not None and v.state == END and v.error:
                    continue  # a version that failed to load is not retried until it changes
                v = Version(number, model.base_path / str(number), state=LOADING)
                model.versions[number] = v
                started = time.monotonic()
                if self.load_error:
                    v.state, v.error, v.error_code = END, self.load_error, "INVALID_ARGUMENT"
                    log.error("could not load %s version %d: %s", model.name, number, v.error)
                    continue
                try:
                    await loop.run_in_executor(self.executor, _load, v)
                    v.state = AVAILABLE
                    log.info(
                        "loaded %s version %d in %.1f s",
                        model.name,
                        number,
                        time.monotonic() - started,
                    )
                except Exception as exc:  # a broken version must not stop the others
                    v.state, v.error = END, f"{type(exc).__name__}: {exc}"
                    v.error_code = "UNKNOWN"
                    log.error("could not load %s version %d: %s", model.name, number, v.error)
            if wanted and not any(model.versions[n].state == AVAILABLE for n in wanted):
                continue  # nothing wanted is ready: keep serving what is loaded
            for number, v in list(model.versions.items()):
                if number not in wanted and v.state == AVAILABLE:
                    # New requests stop resolving to this version at once; requests already
                    # holding it finish on it, and the SavedModel is freed after the last one.
                    model.versions[number] = Version(number, v.path, state=END)
                    log.info("unloaded %s version %d", model.name, number)

    async def run(self) -> None:
        """Poll the model store (and the config file, when asked to) until cancelled."""
        while True:
            now = time.monotonic()
            if self.config_poll and now - self._last_config_read >= self.config_poll:
                self._last_config_read = now
                try:  # upstream re-applies the file on every poll; a refused one again and again
                    if (
                        self._reload_failed
                        or self.config_file.stat().st_mtime != self._config_mtime
                    ):
                        self.read_config()
                        self._reload_failed = False
                        log.info("re-read %s", self.config_file)
                except Exception as exc:  # keep the last good config, like TF Serving
                    self._reload_failed = True
                    log.error("PollFilesystemAndReloadConfig failed to ReloadConfig: %s", exc)
            await self.sync()
            await asyncio.sleep(self.fs_poll)

    def _pinned(self, model: Model, version: int | None, label: str | None) -> int | None:
        """The version a route names (directly or through a label); None for 'latest'."""
        if label is None:
            return version
        if label not in model.labels:
            raise InvalidArgument(f"Unrecognized servable version label: {label}")
        return model.labels[label]

    def resolve(self, name: str, version: int | None = None, label: str | None = None) -> Version:
        """The loaded version a request goes to."""
        model = self.models.get(name)
        if model is None:
            raise NotFound(f"Servable not found for request: Latest({name})")
        number = self._pinned(model, version, label)
        if number is None:
            available = model.available()
            if not available:
                raise NotFound(f"Servable not found for request: Latest({name})")
            return available[-1]
        v = model.versions.get(number)
        if v is None or v.state != AVAILABLE:
            raise NotFound(f"Servable not found for request: Specific({name}, {number})")
        return v

    def status(self, name: str, version: int | None = None) -> list[Version]:
        """What the status route reports: every known version, newest first, or one. Upstream
        ignores a label here (GetModelStatus looks only at the version)."""
        versions = self.models[name].versions if name in self.models else {}
        if version is not None:
            if version not in versions:
                raise NotFound(f"Could not find version {version} of model {name}")
            return [versions[version]]
        if not versions:
            raise NotFound(f"Could not find any versions of model {name}")
        return sorted(versions.values(), key=lambda v: -v.number)
