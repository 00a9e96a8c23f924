"""The curated schema (`models/schema/schema.pbtxt`), read once.

The data gate, the row reader, the drift thresholds and the config's slice check all judge
against this one file, so they load it from here.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tensorflow_metadata.proto.v0 import schema_pb2

from core.paths import SCHEMA_DIR

SCHEMA_FILE = SCHEMA_DIR / "schema.pbtxt"


def load_schema(path: Path | None = None) -> schema_pb2.Schema:
    """`path`, by default SCHEMA_FILE as it is when called (not when imported), so that tests of
    the taxi sample's behaviour can point every reader at its pinned schema after `mlops init`."""
    return read_schema(Path(path or SCHEMA_FILE))


@cache
def read_schema(path: Path) -> schema_pb2.Schema:
    """One schema file, parsed once (`read_schema.cache_clear()` after rewriting it)."""
    from google.protobuf import text_format

    return text_format.Parse(path.read_text(), schema_pb2.Schema())
