"""Raw rows (CSV cells or dicts) turned into typed features and tf.Examples, by the curated schema.

Training reads CSV through CsvExampleGen; serving clients, the load test and the CI checks build
requests from the same kind of rows. Doing the conversion in one place, driven by the schema, keeps
what a client sends identical to what the model was trained on.
"""

from __future__ import annotations

import csv
import difflib
import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tensorflow_metadata.proto.v0 import schema_pb2

from core.schema import SCHEMA_FILE
from core.schema import load_schema as load_schema  # part of this API: rows are read against it

Value = int | float | bytes
Row = dict[str, list[Value]]


class RowError(ValueError):
    """A raw value that the schema cannot accept; the message names the row, field and value."""


class NoDataRows(RowError):
    """A CSV file with a header and no rows (a refused or not yet filled span looks like this)."""


def serving_features(schema: schema_pb2.Schema) -> list[schema_pb2.Feature]:
    """Features a serving request may carry (the SERVING environment drops the label source)."""
    return [f for f in schema.feature if "SERVING" not in f.not_in_environment]


def is_required(feature: schema_pb2.Feature) -> bool:
    """`presence { min_fraction: 1.0 }`: every example must carry the feature."""
    min_fraction: float = feature.presence.min_fraction
    return min_fraction >= 1.0


_RULES: dict[tuple[int, bool], tuple[schema_pb2.Schema, list[tuple[str, bool, int, int | None]]]]
_RULES = {}


def _presence_rules(
    schema: schema_pb2.Schema, serving: bool
) -> list[tuple[str, bool, int, int | None]]:
    """(name, required, min values, max values) per feature, computed once per schema object."""
    key = (id(schema), serving)
    if key not in _RULES or _RULES[key][0] is not schema:
        _RULES[key] = (
            schema,
            [
                (
                    f.name,
                    is_required(f),
                    f.value_count.min if f.value_count.HasField("min") else 0,
                    f.value_count.max if f.value_count.HasField("max") else None,
                )
                for f in (serving_features(schema) if serving else schema.feature)
            ],
        )
    return _RULES[key][1]


def check_presence(
    row: Row, schema: schema_pb2.Schema, *, where: str = "row", serving: bool = True
) -> Row:
    """The schema's presence and value counts, per row: what ExampleValidator enforces on a span.

    Without this a request missing a required feature is still answered (the Transform fills in
    the mean), with a different probability and no warning.
    """
    for name, required, lo, hi in _presence_rules(schema, serving):
        count = len(row.get(name, ()))
        if count == 0 and required:
            raise RowError(
                f"{where}: required field {name!r} has no value (the schema, "
                f"{SCHEMA_FILE.name}, sets presence min_fraction 1.0)"
            )
        if count and (count < lo or (hi is not None and count > hi)):
            allowed = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise RowError(
                f"{where}: field {name!r} has {count} values, the schema's "
                f"value_count allows {allowed}"
            )
    return row


@dataclass(frozen=True)
class Domain:
    """What the schema allows for one feature's values: a range, or a set of strings."""

    source: str  # how the schema names it, for messages: "float_domain", "domain 'payment_type'"
    low: float | None = None
    high: float | None = None
    values: frozenset[bytes] | None = None


INT64 = (-(2**63), 2**63 - 1)
FLOAT32_MAX = 3.4028234663852886e38
_DOMAINS: dict[int, tuple[schema_pb2.Schema, dict[str, Domain]]] = {}


def _range(name: str, d: schema_pb2.IntDomain | schema_pb2.FloatDomain) -> Domain:
    return Domain(
        name,
        d.min if d.HasField("min") else None,
        d.max if d.HasField("max") else None,
    )


def domains(schema: schema_pb2.Schema) -> dict[str, Domain]:
    """Feature name -> its domain, for the features that have one (computed once per schema)."""
    key = id(schema)
    if key not in _DOMAINS or _DOMAINS[key][0] is not schema:
        named = {d.name: d for d in schema.string_domain}
        found: dict[str, Domain] = {}
        for f in schema.feature:
            kind = f.WhichOneof("domain_info")
            if kind == "int_domain":
                found[f.name] = _range("int_domain", f.int_domain)
            elif kind == "float_domain":
                found[f.name] = _range("float_domain", f.float_domain)
            elif kind in ("domain", "string_domain"):
                d = named[f.domain] if kind == "domain" else f.string_domain
                label = f"domain {d.name!r}" if kind == "domain" else "string_domain"
                found[f.name] = Domain(label, values=frozenset(v.encode() for v in d.value))
        _DOMAINS[key] = (schema, found)
    return _DOMAINS[key][1]


def _as_float32(value: float) -> float:
    """The value a tf.Example's float_list holds, which is what the data gate judges."""
    rounded: float = struct.unpack("f", struct.pack("f", value))[0]
    return rounded


def _bound(limit: float) -> str:
    return f"{limit:g}" if isinstance(limit, float) else str(limit)


def check_value(
    name: str, value: Value, domain: Domain | None, *, where: str, shown: Any = None
) -> None:
    """One typed value against the schema's domain, as ExampleValidator judges a span's values:
    outside a string domain, below a minimum, above a maximum, or not finite is refused."""
    shown = value if shown is None else shown
    problem = ""
    if isinstance(value, float):
        if not math.isfinite(value):
            problem = "is not finite"
        elif abs(value) > FLOAT32_MAX:
            problem = "does not fit the 32-bit float a tf.Example holds"
        else:
            value = _as_float32(value)
    elif isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        problem = "does not fit the 64-bit integer a tf.Example holds"
    if not problem and domain is not None:
        where_in = f"{domain.source} of {SCHEMA_FILE.name}"
        if domain.values is not None:
            if value not in domain.values:
                allowed = ", ".join(sorted(v.decode() for v in domain.values))
                problem = f"is not in {where_in} ({allowed})"
        elif isinstance(value, bytes):
            pass  # a range domain on a BYTES feature: the schema's reader refuses the type
        elif domain.low is not None and value < domain.low:
            problem = f"is below the minimum {_bound(domain.low)} ({where_in})"
        elif domain.high is not None and value > domain.high:
            problem = f"is above the maximum {_bound(domain.high)} ({where_in})"
    if problem:
        raise RowError(
            f"{where}: field {name!r}: value {shown!r} {problem}; the data gate refuses it"
        )


def check_domains(row: Row, schema: schema_pb2.Schema, *, where: str = "row") -> Row:
    """Every value of a typed row against the schema's domains (see `check_value`)."""
    rules = domains(schema)
    for name, values in row.items():
        for value in values:
            check_value(name, value, rules.get(name), where=where)
    return row


def _convert(
    feature: schema_pb2.Feature, raw: Any, where: str, schema: schema_pb2.Schema
) -> list[Value]:
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, list | tuple):
        if len(raw) != 1:
            raise RowError(f"{where}: field {feature.name!r}: expected one value, got {raw!r}")
        raw = raw[0]
    value = _typed(feature, raw, where)
    check_value(feature.name, value, domains(schema).get(feature.name), where=where, shown=raw)
    return [value]


def _typed(feature: schema_pb2.Feature, raw: Any, where: str) -> Value:
    try:
        if feature.type == schema_pb2.INT:
            value = raw
            if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
                value = float(value)  # "7.0" from a spreadsheet is fine, "7.5" is not
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if feature.type == schema_pb2.FLOAT:
            value = float(raw)
            if math.isnan(value):
                raise ValueError
            return value
        return raw if isinstance(raw, bytes) else str(raw).encode()
    except (TypeError, ValueError):
        kind = schema_pb2.FeatureType.Name(feature.type).lower()
        raise RowError(
            f"{where}: field {feature.name!r}: value {raw!r} is not a valid {kind}"
        ) from None


def typed_row(
    raw: Mapping[str, Any], schema: schema_pb2.Schema, *, where: str = "row", serving: bool = True
) -> Row:
    """Typed values per schema feature, checked for domains, presence and value counts.

    An empty optional cell becomes no value (the Transform fills it); an empty required one is an
    error naming the field.
    """
    features = serving_features(schema) if serving else list(schema.feature)
    known = {f.name for f in schema.feature}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RowError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; the schema "
            f"({SCHEMA_FILE.name}) has no such feature"
        )
    row = {f.name: _convert(f, raw.get(f.name), where, schema) for f in features}
    return check_presence(row, schema, where=where, serving=serving)


def _varint(value: int) -> bytes:
    """A protobuf varint; a negative int64 as its 64-bit two's complement, as protobuf writes it."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2): a message, a string or a packed list."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _float32(value: float) -> bytes:
    """A float field's 4 bytes; beyond float32's range it is infinite, as protobuf stores it."""
    try:
        return struct.pack("<f", value)
    except OverflowError:
        return struct.pack("<f", math.copysign(math.inf, value))


def to_example(row: Row) -> bytes:
    """A serialized tf.Example, the input of the exported `serving_default` signature.

    Written without TensorFlow: `mlops loadtest` and `mlops predict` build their requests here,
    and importing TensorFlow for one message type cost them seconds at each start. The wire
    format (example.proto, feature.proto): Example.features (1) -> Features.feature (1, a map
    entry of key (1) and Feature (2)); a Feature is bytes_list (1), float_list (2) or
    int64_list (3), each holding its values in field 1, the numbers packed.
    serving/example_wire.py reads it back.
    """
    entries = []
    for name, values in row.items():
        if not values:
            continue
        first = values[0]
        if isinstance(first, bytes):
            strings = cast(list[bytes], values)  # a feature's values share one type
            feature = _field(1, b"".join(_field(1, v) for v in strings))
        elif isinstance(first, float):
            floats = cast(list[float], values)
            feature = _field(2, _field(1, b"".join(_float32(v) for v in floats)))
        else:
            feature = _field(3, _field(1, b"".join(_varint(int(v)) for v in values)))
        entries.append(_field(1, _field(1, name.encode()) + _field(2, feature)))
    return _field(1, b"".join(entries)) if entries else b""  # no features: an empty Example


def check_header(
    path: Path, header: list[str] | None, schema: schema_pb2.Schema, *, serving: bool = True
) -> list[str]:
    """The header, checked against the schema before any row: a misspelt name is named with what
    is missing."""
    if not header:
        raise RowError(f"{path}: empty file; the first line must name the columns")
    known = [f.name for f in schema.feature]
    unknown = [c for c in header if c not in known]
    duplicated = sorted({c for c in header if header.count(c) > 1})
    required = [
        f.name for f in (serving_features(schema) if serving else schema.feature) if is_required(f)
    ]
    missing = [name for name in required if name not in header]
    problems = []
    if duplicated:
        problems.append(f"column(s) {', '.join(map(repr, duplicated))} appear more than once")
    for column in unknown:
        close = difflib.get_close_matches(column, known, n=1)
        problems.append(
            f"unknown column {column!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        )
    if missing:
        problems.append(f"required column(s) {', '.join(map(repr, missing))} missing")
    if problems:
        raise RowError(
            f"{path}:1 (header): {'; '.join(problems)}; the schema "
            f"({SCHEMA_FILE.name}) names the columns"
        )
    return header


def read_csv(
    path: Path, schema: schema_pb2.Schema, *, limit: int | None = None, serving: bool = True
) -> list[Row]:
    """Typed rows of a CSV file with a header; errors name the file, line and column."""
    rows: list[Row] = []
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = check_header(path, next(reader, None), schema, serving=serving)
            for cells in reader:
                line = reader.line_num
                if limit is not None and len(rows) >= limit:
                    break
                if not cells:
                    continue  # a blank line, as csv.DictReader skips it
                if len(cells) != len(header):
                    raise RowError(
                        f"{path}:{line}: {len(cells)} cells, the header has {len(header)} columns"
                    )
                rows.append(
                    typed_row(
                        dict(zip(header, cells, strict=True)),
                        schema,
                        where=f"{path}:{line}",
                        serving=serving,
                    )
                )
        except UnicodeDecodeError as exc:
            raise RowError(f"{path}: not UTF-8 text ({exc}); is it a CSV file?") from None
        except csv.Error as exc:
            raise RowError(f"{path}:{reader.line_num}: not a readable CSV line: {exc}") from None
    if not rows:
        raise NoDataRows(f"{path}: no data rows")
    return rows


def examples(rows: Iterable[Row], schema: schema_pb2.Schema | None = None) -> list[bytes]:
    """Serialized tf.Examples of serving rows, each checked for presence, value counts and
    domains."""
    schema = schema or load_schema()
    return [
        to_example(
            check_domains(check_presence(r, schema, where=f"row {i}"), schema, where=f"row {i}")
        )
        for i, r in enumerate(rows, start=1)
    ]
