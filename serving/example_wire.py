"""Read a serialized tf.Example without TensorFlow, for the request logger.

The logger runs beside every server and must start in a moment and stay small; importing
TensorFlow for one message type would cost seconds and hundreds of megabytes. tf.Example's wire
format (example.proto, feature.proto) is small: Example.features (1) -> Features.feature (1, a
map of name -> Feature), and Feature is one of bytes_list (1), float_list (2) or int64_list (3),
each with its values in field 1, packed or not.
"""

from __future__ import annotations

import struct

Value = bytes | float | int


class WireError(ValueError):
    """Bytes that are not a serialized tf.Example."""


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise WireError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, bytes | int]]:
    """(field number, wire type, payload) of each field of one message."""
    out: list[tuple[int, int, bytes | int]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = _varint(data, at)
            out.append((number, wire, value))
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise WireError("truncated field")
            out.append((number, wire, data[at : at + size]))
            at += size
        elif wire == 5:
            out.append((number, wire, data[at : at + 4]))
            at += 4
        elif wire == 1:
            out.append((number, wire, data[at : at + 8]))
            at += 8
        else:
            raise WireError(f"unsupported wire type {wire}")
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _values(kind: int, payload: bytes) -> list[Value]:
    out: list[Value] = []
    for number, wire, value in _fields(payload):
        if number != 1:
            continue
        if kind == 1 and isinstance(value, bytes):
            out.append(value)
        elif kind == 2 and isinstance(value, bytes):
            out += [round(v, 6) for v in struct.unpack(f"<{len(value) // 4}f", value)]
        elif kind == 3 and wire == 0 and isinstance(value, int):
            out.append(_signed(value))
        elif kind == 3 and isinstance(value, bytes):
            at = 0
            while at < len(value):
                v, at = _varint(value, at)
                out.append(_signed(v))
    return out


def parse_example(data: bytes) -> dict[str, list[Value]]:
    """Feature name -> values, as the client put them in the tf.Example."""
    row: dict[str, list[Value]] = {}
    for number, _, features in _fields(data):
        if number != 1 or not isinstance(features, bytes):
            continue
        for entry_number, _, entry in _fields(features):
            if entry_number != 1 or not isinstance(entry, bytes):
                continue
            name, feature = "", b""
            for part, _, value in _fields(entry):
                if part == 1 and isinstance(value, bytes):
                    name = value.decode("utf-8", "replace")
                elif part == 2 and isinstance(value, bytes):
                    feature = value
            for kind, _, payload in _fields(feature):
                if isinstance(payload, bytes) and kind in (1, 2, 3):
                    row[name] = _values(kind, payload)
    return row
