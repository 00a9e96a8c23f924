"""Spans: numbered folders of raw data under `data.root`, matched by `data.input_pattern`.

New data arrives as a new span (`span-<N>/` below the data root: a commit under `data/` for the
bundled data, or a new folder in the bucket). CsvExampleGen resolves `{SPAN}` to the newest one;
the rolling window, the drift gate and `mlops ct check` need the whole list, so it lives here,
without TFX, for local paths and bucket URIs alike.
"""

from __future__ import annotations

import glob
import hashlib
import re

from core.config import EnvironmentConfig
from core.errors import ConfigError, InfraError
from core.uris import is_remote, join_uri


def _glob(pattern: str) -> list[str]:
    if not is_remote(pattern):
        return glob.glob(pattern)
    import tensorflow as tf

    try:
        return tf.io.gfile.glob(pattern)
    except tf.errors.OpError as exc:
        raise InfraError(f"cannot list {pattern} (data.root): {exc.message}") from None


def pattern(cfg: EnvironmentConfig) -> str:
    """`data.root` joined with `data.input_pattern`: the files of every span, `{SPAN}` unfilled."""
    return join_uri(cfg.data.root, cfg.data.input_pattern)


def available(cfg: EnvironmentConfig) -> dict[int, list[str]]:
    """Span number -> its files, for every span under the data root (numeric order)."""
    return available_under(cfg.data.root, cfg.data.input_pattern)


def available_under(root: str, input_pattern: str) -> dict[int, list[str]]:
    """As `available`, for any data root (a release's, which may not be this run's)."""
    every_span = join_uri(root, input_pattern)
    as_regex = re.escape(every_span).replace(re.escape("{SPAN}"), r"(\d+)").replace(r"\*", "[^/]*")
    found: dict[int, list[str]] = {}
    for path in _glob(every_span.replace("{SPAN}", "*")):
        match = re.fullmatch(as_regex, path)
        if match:
            found.setdefault(int(match.group(1)), []).append(path)
    return {span: sorted(found[span]) for span in sorted(found)}


def newest(cfg: EnvironmentConfig) -> int:
    spans = available(cfg)
    if not spans:
        raise ConfigError(f"no data matches {pattern(cfg)} (data.root + data.input_pattern)")
    return max(spans)


def files(cfg: EnvironmentConfig, span_numbers: list[int]) -> list[str]:
    """The files of the given spans; a span that is gone is an error naming it."""
    spans = available(cfg)
    missing = [s for s in span_numbers if s not in spans]
    if missing:
        raise ConfigError(
            f"span(s) {', '.join(map(str, missing))} not found under "
            f"{pattern(cfg)} (available: {describe(list(spans)) or 'none'})"
        )
    return [path for s in span_numbers for path in spans[s]]


def window(cfg: EnvironmentConfig) -> list[int]:
    """The spans a run trains on: the newest `data.window_spans` that exist."""
    return list(available(cfg))[-cfg.data.window_spans :]


def describe(span_numbers: list[int]) -> str:
    """`1-3` for a run of consecutive spans, else `1, 4`."""
    s = sorted(span_numbers)
    if len(s) > 1 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}-{s[-1]}"
    return ", ".join(map(str, s))


def digest(paths: list[str]) -> str:
    """A span's identity by content: sha256 over its files' digests, whatever their paths.

    Two copies of the same span (another data root, another folder) have the same digest, so
    `ct check --data COPY` knows which of COPY's spans the released model was trained on.
    """
    files = []
    for path in paths:
        content = hashlib.sha256()
        if is_remote(path):
            import tensorflow as tf

            try:
                with tf.io.gfile.GFile(path, "rb") as f:
                    content.update(f.read())
            except tf.errors.OpError as exc:
                raise InfraError(f"cannot read {path}: {exc.message}") from None
        else:
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    content.update(block)
        files.append(content.hexdigest())
    return "sha256:" + hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()
