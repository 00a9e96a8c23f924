"""Predict request and response JSON, read and written the way TF Serving's REST layer does.

Follows upstream's `tensorflow_serving/util/json_tensor.cc`: the body must be a JSON object;
`signature_name` (optional, empty means `serving_default`) must be a string; exactly one of
`instances` (row format, a non-empty list) or `inputs` (columnar: a value for a single input,
or an object naming each input; other keys are ignored) carries the tensors; each tensor is
dense (every list at one level has the same length); bytes are `{"b64": ...}` objects; a plain
string is taken as its UTF-8 bytes. The error messages keep upstream's wording where a client
might match on it. Everything here is pure Python and raises only InvalidArgument.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from serving.standin.model_manager import InvalidArgument

# JSON value checks per TensorFlow dtype name (upstream's AddValueToTensor).
_INT_RANGES = {
    "DT_INT8": (-(2**7), 2**7 - 1),
    "DT_UINT8": (0, 2**8 - 1),
    "DT_INT16": (-(2**15), 2**15 - 1),
    "DT_INT32": (-(2**31), 2**31 - 1),
    "DT_INT64": (-(2**63), 2**63 - 1),
    "DT_UINT32": (0, 2**32 - 1),
    "DT_UINT64": (0, 2**64 - 1),
}
_NUMPY = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_BOOL": np.bool_,
    "DT_INT8": np.int8,
    "DT_UINT8": np.uint8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_STRING": object,
}


def debug(value: Any) -> str:
    """A JSON value as upstream prints it in errors (compact JSON)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)[:200]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "False" if value is False else "True"
    if value is None:
        return "Null"
    names: dict[type, str] = {dict: "Object", list: "Array", str: "String"}
    return names.get(type(value), "Number")


def parse_body(raw: bytes) -> dict[str, Any]:
    """upstream ParseJson: a JSON object, or InvalidArgument."""
    if not raw:
        raise InvalidArgument("JSON Parse error: The document is empty")
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"JSON Parse error: {exc.msg} at offset: {exc.pos}") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise InvalidArgument(f"JSON Parse error: {type(exc).__name__}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"JSON Value: {debug(doc)} Is not object")
    return doc


def signature_name(doc: dict[str, Any]) -> str:
    name = doc.get("signature_name", "")
    if not isinstance(name, str):
        raise InvalidArgument(
            f"JSON Value: {debug(doc)} not formatted correctly. "
            f"'signature_name' key must be a string value."
        )
    return name


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def _scalar(value: Any, dtype: str) -> Any:
    """One leaf value, or InvalidArgument (upstream's TypeError / Base64FormatError)."""
    if dtype == "DT_STRING":
        if isinstance(value, dict):
            if not _is_b64(value):
                raise InvalidArgument(
                    f"JSON Value: {debug(value)} not formatted correctly for base64 data"
                )
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise InvalidArgument("Unable to base64 decode") from None
        if isinstance(value, str):
            return value.encode("utf-8", "surrogatepass")
    elif isinstance(value, dict):
        pass
    elif dtype in ("DT_FLOAT", "DT_DOUBLE"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:
                pass
    elif dtype == "DT_BOOL":
        if isinstance(value, bool):
            return value
    elif dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
    else:
        raise InvalidArgument(
            f"Conversion of JSON Value: {debug(value)} to type: "
            f"{dtype.removeprefix('DT_').lower()} is not supported"
        )
    raise InvalidArgument(
        f"JSON Value: {debug(value)} Type: {_json_type(value)} is not of "
        f"expected type: {dtype.removeprefix('DT_').lower()}"
    )


def _shape(value: Any) -> list[int]:
    """upstream GetDenseTensorShape: follow the first element down."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, shape: list[int], dtype: str, out: list[Any]) -> None:
    """upstream FillTensorProto, iteratively: every leaf at the tensor's rank."""
    stack = [(value, level)]
    while stack:
        val, lvl = stack.pop()
        if not isinstance(val, list):
            if lvl != len(shape):
                raise InvalidArgument(
                    f"JSON Value: {debug(val)} found at incorrect level: "
                    f"{lvl + 1} in the JSON DOM. Expected at level: "
                    f"{len(shape)}"
                )
            out.append(_scalar(val, dtype))
            continue
        if lvl >= len(shape):
            raise InvalidArgument(
                f"Encountered list at unexpected level: {lvl} expected < {len(shape)}"
            )
        if len(val) != shape[lvl]:
            raise InvalidArgument(
                f"Encountered list at unexpected size: {len(val)} at level: "
                f"{lvl} expected size: {shape[lvl]}"
            )
        stack.extend((v, lvl + 1) for v in reversed(val))


def _tensor(value: Any, dtype: str) -> tuple[list[Any], list[int]]:
    shape = _shape(value)
    values: list[Any] = []
    _fill(value, 0, shape, dtype, values)
    return values, shape


def _array(values: list[Any], shape: list[int], dtype: str) -> np.ndarray:
    np_type = _NUMPY.get(dtype)
    if np_type is None:
        raise InvalidArgument(f"Conversion to type: {dtype} is not supported")
    if np_type is object:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array.reshape(shape)
    return np.asarray(values, dtype=np_type).reshape(shape)


def _instances(items: list[Any], dtypes: Mapping[str, str]) -> dict[str, np.ndarray]:
    """upstream FillTensorMapFromInstancesList."""
    if not isinstance(items[0], dict) and len(dtypes) > 1:
        raise InvalidArgument(
            "instances is a plain list, but expecting list of objects as "
            "multiple input tensors required as per tensorinfo_map"
        )
    named = isinstance(items[0], dict) and not _is_b64(items[0])
    names = sorted(dtypes)
    columns: dict[str, list[Any]] = {}
    shapes: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        is_object = isinstance(item, dict) and not _is_b64(item)
        if named != is_object:
            got = "object but got list" if named else "value/list but got object"
            raise InvalidArgument(f"Expecting {got} at item {i} of input list")
        pairs = list(item.items()) if named else [(names[0], item)]
        for key, value in pairs:
            if key not in dtypes:
                raise InvalidArgument(
                    f"Failed to process element: {i} key: {key} of "
                    f"'instances' list. Error: INVALID_ARGUMENT: JSON "
                    f"object: does not have named input: {key}"
                )
            values, shape = _tensor(value, dtypes[key])
            if key in shapes and shapes[key] != shape:
                raise InvalidArgument(
                    f"Failed to process element: {i} of 'instances' list. "
                    f"Error: INVALID_ARGUMENT: Expecting shape {shapes[key]} "
                    f"but got: {shape}"
                )
            shapes[key] = shape
            columns.setdefault(key, []).extend(values)
        if named and set(item) != set(names):
            raise InvalidArgument(
                f"Failed to process element: {i} of 'instances' list. JSON "
                f"object: {debug(item)} keys must be equal to: "
                f"{','.join(names)}"
            )
    return {k: _array(v, [len(items), *shapes[k]], dtypes[k]) for k, v in columns.items()}


def _columnar(value: Any, dtypes: Mapping[str, str]) -> dict[str, np.ndarray]:
    """upstream FillTensorMapFromInputsMap: keys that are not inputs are ignored."""
    if not isinstance(value, dict) or _is_b64(value):
        if len(dtypes) > 1:
            raise InvalidArgument(
                "inputs is a plain value/list, but expecting an object as "
                "multiple input tensors required as per tensorinfo_map"
            )
        name = next(iter(dtypes))
        values, shape = _tensor(value, dtypes[name])
        return {name: _array(values, shape, dtypes[name])}
    out = {}
    for name in sorted(dtypes):
        if name not in value:
            raise InvalidArgument(f"Missing named input: {name} in 'inputs' object.")
        values, shape = _tensor(value[name], dtypes[name])
        out[name] = _array(values, shape, dtypes[name])
    return out


def predict_inputs(
    doc: dict[str, Any], dtypes: Mapping[str, str]
) -> tuple[dict[str, np.ndarray], bool]:
    """Named input arrays and whether the request was columnar (upstream's order of checks)."""
    if not dtypes:
        raise InvalidArgument("Failed to get input map for signature")
    if "instances" in doc:
        if "inputs" in doc:
            raise InvalidArgument(
                f"JSON Value: {debug(doc)} Not formatted correctly expecting "
                f"only one of 'inputs' or 'instances' keys to exist "
            )
        items = doc["instances"]
        if not isinstance(items, list):
            raise InvalidArgument(
                f"JSON Value: {debug(doc)} Expecting 'instances' to be an list/array"
            )
        if not items:
            raise InvalidArgument(f"JSON Value: {debug(doc)} No values in 'instances' array")
        return _instances(items, dtypes), False
    if "inputs" in doc:
        return _columnar(doc["inputs"], dtypes), True
    raise InvalidArgument("Missing 'inputs' or 'instances' key")


def _plain(array: np.ndarray, as_bytes: bool) -> Any:
    if array.dtype == object or array.dtype.kind in "SU":

        def one(x: Any) -> Any:
            raw = x if isinstance(x, bytes) else str(x).encode()
            if as_bytes:
                return {"b64": base64.b64encode(raw).decode()}
            return raw.decode("utf-8", "replace")

        flat = [one(x) for x in array.ravel()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist() if array.ndim else flat[0]
    return array.tolist()


def predict_json(outputs: Mapping[str, np.ndarray], columnar: bool) -> dict[str, Any]:
    """upstream MakeJsonFromTensors: row format per instance, columnar per output; a string
    output is written as text unless its name ends in `_bytes` (then as a b64 object)."""
    if not outputs:
        raise InvalidArgument("Cannot convert empty tensor map to JSON")
    plain = {k: _plain(v, k.endswith("_bytes")) for k, v in outputs.items()}
    if columnar:
        if len(plain) == 1:
            return {"outputs": next(iter(plain.values()))}
        return {"outputs": plain}
    sizes: dict[str, int] = {}
    for k, v in outputs.items():
        if not v.ndim:
            raise InvalidArgument(f"Tensor name: {k} has no shape information ")
        sizes[k] = v.shape[0]
    if len(set(sizes.values())) > 1:
        raise InvalidArgument("Tensor name: has inconsistent batch size")
    if len(plain) == 1:
        return {"predictions": next(iter(plain.values()))}
    n = next(iter(sizes.values()))
    return {"predictions": [{k: v[i] for k, v in sorted(plain.items())} for i in range(n)]}
