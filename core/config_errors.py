"""pydantic's findings about an environment, told as the file, key path and value to fix.

pydantic reports a location tuple and its own wording; a person editing YAML needs the file
that set the value (base, a shared layer or the overlay), the dotted key path, the value as
written, and what is allowed there. One message line: the first problem, unknown keys first
(a misspelt key is usually why another one looks missing), and how many more there are.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from core.config_layers import EXTENDS
from core.errors import ConfigError
from core.uris import display

_UNKNOWN = ("unexpected_keyword_argument", "extra_forbidden")
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dataclass_type": "a mapping",
    "dataclass_exact_type": "a mapping",
    "dict_type": "a mapping",
}
_BOUNDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}


def key_path(loc: Sequence[int | str]) -> str:
    """('training', 'hidden_units', 0) -> 'training.hidden_units[0]'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


def where(origin: dict[str, Path], path: str, fallback: Path) -> str:
    """The file that set `path`, or the nearest enclosing key it set (a list item: its list)."""
    while path:
        if path in origin:
            return display(origin[path])
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return display(fallback)


def config_error(
    exc: ValidationError,
    root: type,
    origin: dict[str, Path],
    overlay: Path,
    layers: Sequence[Path] = (),
) -> ConfigError:
    """The first of pydantic's errors as a ConfigError, plus how many more there are."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] not in _UNKNOWN)  # stable
    message = _describe(errors[0], root, origin, overlay, layers)
    more = len(errors) - 1
    if more:
        message += f" (and {more} more problem{'s' if more > 1 else ''} after this one)"
    return ConfigError(message)


def _describe(
    error: ErrorDetails, root: type, origin: dict[str, Path], overlay: Path, layers: Sequence[Path]
) -> str:
    loc = error["loc"]
    path = key_path(loc)
    kind, value = error["type"], error["input"]
    hint = _annotation(root, loc)
    if kind == "missing":
        lower = "".join(f", {display(p)}" for p in layers)
        return (
            f"{display(overlay)}: {path}: required value is missing "
            f"(set it here{lower} or in the base config)"
        )
    prefix = f"{where(origin, path, overlay)}: {path or '(top level)'}"
    if kind in _UNKNOWN:
        allowed = _fields(_annotation(root, loc[:-1]))
        if not loc[:-1]:
            allowed = sorted([*allowed, EXTENDS])
        return f"{prefix}: unknown key (allowed here: {', '.join(allowed)})"
    if _unwrap(hint) is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # as the loaded config holds it
    if kind in _BOUNDS:
        ctx = error.get("ctx", {})
        bound = next(iter(ctx.values()), "?")
        return f"{prefix}: must be {_BOUNDS[kind]} {bound}, got {value!r}"
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
    elif kind == "list_type":
        expected = f"a list of {_item_name(hint)}"
    elif kind == "literal_error":
        expected = "one of " + ", ".join(repr(c) for c in typing.get_args(_unwrap(hint)))
    elif kind == "string_pattern_mismatch":
        expected = f"a string matching {error.get('ctx', {}).get('pattern')}"
    else:  # a check this translation does not know yet: pydantic's own words
        return f"{prefix}: {error['msg']}, got {type(value).__name__} {value!r}"
    return f"{prefix}: expected {expected}, got {type(value).__name__} {value!r}"


def _annotation(root: type, loc: Sequence[int | str]) -> Any:
    """The declared type at `loc`, following dataclass fields and list items from `root`."""
    hint: Any = root
    for part in loc:
        hint = _unwrap(hint)
        if isinstance(part, int):
            args = typing.get_args(hint)
            hint = args[0] if args else Any
        elif dataclasses.is_dataclass(hint):
            fields = getattr(hint, "__pydantic_fields__", {})
            hint = fields[part].annotation if part in fields else Any
        else:
            return Any
    return hint


def _unwrap(hint: Any) -> Any:
    """`Annotated[int, Strict()]` -> int."""
    while typing.get_origin(hint) is Annotated:
        hint = typing.get_args(hint)[0]
    return hint


def _fields(cls: Any) -> list[str]:
    return sorted(getattr(cls, "__pydantic_fields__", {}))


def _item_name(hint: Any) -> str:
    args = typing.get_args(_unwrap(hint))
    item = _unwrap(args[0]) if args else Any
    return getattr(item, "__name__", str(item))
