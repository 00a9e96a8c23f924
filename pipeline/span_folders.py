"""Span folders without data: left behind when a refused span's files were removed.

CsvExampleGen and the window see only spans whose files match `data.input_pattern`, so an empty
`span-3/` is silently skipped. A person who removed a refused span's CSV may believe span 3 is
still in play, or that it was dropped; the run says which, before it starts.
"""

from __future__ import annotations

import glob
import os
import re

from core.config import EnvironmentConfig
from core.uris import is_remote, join_uri, repo_relative
from ct import spans


def _folders(pattern: str) -> list[str]:
    if not is_remote(pattern):
        return [path for path in glob.glob(pattern) if os.path.isdir(path)]
    import tensorflow as tf

    return [path.rstrip("/") for path in tf.io.gfile.glob(pattern) if tf.io.gfile.isdir(path)]


def empty_span_folders(cfg: EnvironmentConfig) -> dict[int, str]:
    """Span number -> folder, for span folders under `data.root` that hold no matching file."""
    parts = cfg.data.input_pattern.split("/")
    level = next((i for i, part in enumerate(parts) if "{SPAN}" in part), len(parts) - 1)
    if level == len(parts) - 1:
        return {}  # the span is in the file name: there are no span folders
    folder = join_uri(cfg.data.root, "/".join(parts[: level + 1]))
    as_regex = re.escape(folder).replace(re.escape("{SPAN}"), r"(\d+)").replace(r"\*", "[^/]*")
    with_data = set(spans.available(cfg))
    empty = {}
    for path in _folders(folder.replace("{SPAN}", "*")):
        match = re.fullmatch(as_regex, path)
        if match and int(match.group(1)) not in with_data:
            empty[int(match.group(1))] = path
    return dict(sorted(empty.items()))


def warnings(cfg: EnvironmentConfig) -> list[str]:
    """One line per empty span folder, saying what the run does with it and what to do."""
    return [
        f"span folder {repo_relative(path)} holds no file matching {cfg.data.input_pattern} "
        f"(data.input_pattern): span {number} is not part of this run; add its data, or "
        f"delete the folder"
        for number, path in empty_span_folders(cfg).items()
    ]
