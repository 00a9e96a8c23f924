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


@cache
def load_schema(path: Path = SCHEMA_FILE) -> schema_pb2.Schema:
    from google.protobuf import text_format

    return text_format.Parse(Path(path).read_text(), schema_pb2.Schema())
