"""The request-log store in a bucket (monitoring.request_log.store: gs://BUCKET/PATH).

The same life as the registry store (store/request_log_registry.py), through tf.io.gfile with
the machine's Google credentials (a pod's workload identity, `gcloud auth application-default
login`, or GOOGLE_APPLICATION_CREDENTIALS): each rotated file of the logger's spool is copied to
`gs://BUCKET/PATH/requests-<ns>.jsonl`, then removed from the spool; after each publish the
oldest objects beyond `max_files` are deleted (or leave that to the bucket's lifecycle rule);
`mlops monitor` reads the newest objects until it has `window_rows` rows. TensorFlow's in-memory
`ram://` filesystem takes the same calls, which is how the tests run it without a bucket.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ConfigError, InfraError
from store import request_log as L


class RequestLogBucket:
    """One bucket folder holding the rotated files of one environment's request log."""

    def __init__(self, uri: str) -> None:
        if not uri.startswith(L.BUCKETS) or "${" in uri or not uri.split("://", 1)[1].strip("/"):
            raise ConfigError(
                f"{L.SETTING}: {uri!r}: expected gs://BUCKET/PATH with every ${{...}} set"
            )
        import tensorflow as tf

        self.uri = uri.rstrip("/")
        self._gfile: Any = tf.io.gfile
        self._errors: Any = tf.errors

    def _infra(self, exc: Exception) -> InfraError:
        return InfraError(
            f"request-log store {self.uri} ({L.SETTING}) cannot be read: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; check the "
            "bucket's name and this machine's credentials"
        )

    def files(self) -> list[str]:
        """The published files' names, oldest first."""
        if not self._gfile.exists(self.uri):
            return []
        return sorted(
            name
            for name in self._gfile.listdir(self.uri)
            if L.TAG.match(name.removesuffix(".jsonl")) and name.endswith(".jsonl")
        )

    def publish_file(self, path: Path) -> str:
        if not L.TAG.match(path.name.removesuffix(".jsonl")):
            raise ConfigError(f"{path}: not a rotated request-log file (requests-<ns>.jsonl)")
        self._gfile.makedirs(self.uri)
        target = f"{self.uri}/{path.name}"
        partial = f"{target}.partial"  # the reader lists *.jsonl only: no half-copied file
        self._gfile.copy(str(path), partial, overwrite=True)
        self._gfile.rename(partial, target, overwrite=True)
        return target

    def prune(self, keep: int) -> int:
        names = self.files()
        old = names[: max(0, len(names) - keep)]
        for name in old:
            self._gfile.remove(f"{self.uri}/{name}")
        return len(old)

    def read_window(self, limit: int) -> L.Window:
        try:
            names = self.files()

            def read() -> Iterator[L.Lines]:
                for name in reversed(names):
                    where = f"{self.uri}/{name}"
                    try:
                        with self._gfile.GFile(where, "rb") as f:
                            text = f.read().decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise ConfigError(f"request-log store {where}: unreadable: {exc}") from None
                    except self._errors.NotFoundError:
                        continue  # deleted by the logger's retention while we listed
                    yield L.parse_lines(text, where)

            return L.newest(read(), limit, len(names))
        except self._errors.OpError as exc:
            raise self._infra(exc) from None
