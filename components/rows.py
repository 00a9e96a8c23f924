"""Raw rows (CSV cells or dicts) turned into typed features and tf.Examples, by the curated schema.

Training reads CSV through CsvExampleGen; serving clients, the load test and the CI checks build
requests from the same kind of rows. Doing the conversion in one place, driven by the schema, keeps
what a client sends identical to what the model was trained on.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from tensorflow_metadata.proto.v0 import schema_pb2

from components import SCHEMA_DIR

Value = int | float | bytes
Row = dict[str, list[Value]]
SCHEMA_FILE = SCHEMA_DIR / "schema.pbtxt"


class RowError(ValueError):
    """A raw value that the schema cannot accept; the message names the row, field and value."""


@cache
def load_schema(path: Path = SCHEMA_FILE) -> schema_pb2.Schema:
    from google.protobuf import text_format

    return text_format.Parse(Path(path).read_text(), schema_pb2.Schema())


def serving_features(schema: schema_pb2.Schema) -> list[schema_pb2.Feature]:
    """Features a serving request may carry (the SERVING environment drops the label source)."""
    return [f for f in schema.feature if "SERVING" not in f.not_in_environment]


def _convert(feature: schema_pb2.Feature, raw: Any, where: str) -> list[Value]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, list | tuple):
        if len(raw) != 1:
            raise RowError(f"{where}: field {feature.name!r}: expected one value, got {raw!r}")
        raw = raw[0]
    try:
        if feature.type == schema_pb2.INT:
            value = raw
            if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
                value = float(value)  # "7.0" from a spreadsheet is fine, "7.5" is not
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return [int(value)]
        if feature.type == schema_pb2.FLOAT:
            value = float(raw)
            if math.isnan(value):
                raise ValueError
            return [value]
        return [raw if isinstance(raw, bytes) else str(raw).encode()]
    except (TypeError, ValueError):
        kind = schema_pb2.FeatureType.Name(feature.type).lower()
        raise RowError(f"{where}: field {feature.name!r}: value {raw!r} is not a valid "
                       f"{kind}") from None


def typed_row(raw: Mapping[str, Any], schema: schema_pb2.Schema, *, where: str = "row",
              serving: bool = True) -> Row:
    """Typed values per schema feature; empty cells become no value (the Transform fills them)."""
    features = serving_features(schema) if serving else list(schema.feature)
    known = {f.name for f in schema.feature}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RowError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; the schema "
                       f"({SCHEMA_FILE.name}) has no such feature")
    return {f.name: _convert(f, raw.get(f.name), where) for f in features}


def to_example(row: Row) -> bytes:
    """A serialized tf.Example, the input of the exported `serving_default` signature."""
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    for name, values in row.items():
        if not values:
            continue
        feature = example.features.feature[name]
        first = values[0]
        if isinstance(first, bytes):
            feature.bytes_list.value.extend(values)
        elif isinstance(first, float):
            feature.float_list.value.extend(values)
        else:
            feature.int64_list.value.extend(values)
    return example.SerializeToString()


def read_csv(path: Path, schema: schema_pb2.Schema, *, limit: int | None = None,
             serving: bool = True) -> list[Row]:
    """Typed rows of a CSV file with a header; errors name the file and line."""
    rows: list[Row] = []
    with Path(path).open(newline="") as f:
        for line, raw in enumerate(csv.DictReader(f), start=2):
            if limit is not None and len(rows) >= limit:
                break
            if None in raw:
                raise RowError(f"{path}:{line}: more cells than header columns")
            rows.append(typed_row(raw, schema, where=f"{path}:{line}", serving=serving))
    if not rows:
        raise RowError(f"{path}: no data rows")
    return rows


def examples(rows: Iterable[Row]) -> list[bytes]:
    return [to_example(r) for r in rows]
