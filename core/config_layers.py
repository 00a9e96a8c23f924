"""Which files make up an environment, and how they merge: base, shared layers, overlay.

`environments/base/config.yaml` is always the bottom. An overlay may name shared layers with
`extends: cloud` (or a list, `extends: [cloud, gpu]`), so environments that share more than the
base (staging and prod run on the same cloud) say it once. A layer is the file
`environments/<name>.yaml`, not a folder, so it is never mistaken for an environment; a layer may
extend other layers. Files apply in the order base -> layers (each after the layers it extends)
-> overlay. Mappings merge key by key; a list or a scalar replaces what a lower file set.
`origin` records which file set each key path last, so an error blames the file to edit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from core.config_models import NAME_PATTERN
from core.errors import ConfigError
from core.uris import display

BASE_NAME = "base"
CONFIG_FILE = "config.yaml"
LAYER_SUFFIX = ".yaml"
EXTENDS = "extends"
_LAYER_NAME = re.compile(NAME_PATTERN)


# libyaml's parser (the lock's PyYAML wheels carry it): config is read on every command, and
# the pure-Python parser was most of a promotion's time. The constructor is the safe one.
class _StrictLoader(yaml.CSafeLoader):
    """A safe loader that refuses a key given twice (PyYAML would silently keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} appears twice in the same mapping",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path) -> dict[str, Any]:
    """One config file as a mapping; invalid YAML names the line and column."""
    try:
        data = yaml.load(path.read_text(), Loader=_StrictLoader)  # safe: a CSafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{display(path)}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{display(path)}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    return data


def layer_path(environments_dir: Path, name: str) -> Path:
    return Path(environments_dir) / f"{name}{LAYER_SUFFIX}"


def available_layers(environments_dir: Path) -> list[str]:
    """Names of the shared layers: the `*.yaml` files directly in environments/."""
    return sorted(p.stem for p in Path(environments_dir).glob(f"*{LAYER_SUFFIX}") if p.is_file())


def files_of(environments_dir: Path, env: str) -> list[tuple[Path, dict[str, Any]]]:
    """The files of one environment, bottom first, each with its content (`extends` removed).

    The overlay must exist (the caller says which environments there are).
    """
    environments_dir = Path(environments_dir)
    base = environments_dir / BASE_NAME / CONFIG_FILE
    overlay = environments_dir / env / CONFIG_FILE
    files: list[tuple[Path, dict[str, Any]]] = []
    if base.exists():
        content = read_yaml(base)
        if EXTENDS in content:
            raise ConfigError(
                f"{display(base)}: {EXTENDS}: the base is the bottom of every environment and "
                f"extends nothing; name shared layers in the overlays"
            )
        files.append((base, content))
    content = read_yaml(overlay)
    _add_layers(environments_dir, overlay, content, [], files)
    files.append((overlay, content))
    return files


def _add_layers(
    environments_dir: Path,
    path: Path,
    content: dict[str, Any],
    chain: list[str],
    files: list[tuple[Path, dict[str, Any]]],
) -> None:
    """Append the layers `content` extends, deepest first; a layer named twice applies once."""
    for name in _extends(path, content.pop(EXTENDS, None), environments_dir):
        if name in chain:
            loop = " -> ".join([*chain[chain.index(name) :], name])
            raise ConfigError(
                f"{display(path)}: {EXTENDS}: layers extend each other in a loop ({loop}); "
                f"a layer may extend only layers below it"
            )
        layer = layer_path(environments_dir, name)
        if any(p == layer for p, _ in files):
            continue
        layer_content = read_yaml(layer)
        _add_layers(environments_dir, layer, layer_content, [*chain, name], files)
        files.append((layer, layer_content))


def _extends(path: Path, value: Any, environments_dir: Path) -> list[str]:
    """The layer names one file's `extends:` gives, checked: known, well-formed, not `base`."""
    if value is None:
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(
            f"{display(path)}: {EXTENDS}: expected a layer name or a list of layer names, "
            f"got {type(value).__name__} {value!r}"
        )
    known = available_layers(environments_dir)
    for name in names:
        if name == BASE_NAME:
            raise ConfigError(
                f"{display(path)}: {EXTENDS}: {BASE_NAME!r} is always the bottom layer and "
                f"is not named; extends names shared layers ({_known(known)})"
            )
        if not _LAYER_NAME.match(name):
            raise ConfigError(
                f"{display(path)}: {EXTENDS}: expected a layer name matching {NAME_PATTERN}, "
                f"got {name!r}"
            )
        if name not in known:
            raise ConfigError(
                f"{display(path)}: {EXTENDS}: no layer {name!r}: "
                f"{display(layer_path(environments_dir, name))} does not exist "
                f"(layers found: {_known(known)})"
            )
    return names


def _known(names: list[str]) -> str:
    return ", ".join(names) or "none"


def merge(
    into: dict[str, Any],
    new: dict[str, Any],
    path: Path,
    origin: dict[str, Path],
    prefix: str = "",
) -> None:
    """Deep-merge mappings; lists and scalars in the upper file replace the lower file's."""
    for key, value in new.items():
        key_path = f"{prefix}{key}"
        if not isinstance(key, str):
            raise ConfigError(f"{display(path)}: {key_path}: keys must be strings, got {key!r}")
        if isinstance(value, dict):
            if not isinstance(into.get(key), dict):
                into[key] = {}
            merge(into[key], value, path, origin, prefix=f"{key_path}.")
        else:
            into[key] = value
        origin[key_path] = path


def has_key(content: dict[str, Any], key_path: str) -> bool:
    """Whether one file's content sets a dotted key path."""
    node: Any = content
    for key in key_path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
