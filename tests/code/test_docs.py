"""The docs say what the code enforces: the layer table is the import-linter contract."""

from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser, from the lock
    import tomli as tomllib

from core import config

ROOT = config.REPO_ROOT
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def contract_layers() -> list[set[str]]:
    """The `layers` contract of pyproject.toml, top first, each layer a set of packages."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (layers,) = [c for c in data["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return [{p.strip() for p in layer.split("|")} for layer in layers["layers"]]


def documented_layers(text: str) -> list[set[str]]:
    """The `| layer | package | ... |` table of docs/architecture.md, grouped by layer number."""
    rows = re.findall(r"^\| (\d+) \| `([\w.]+)` \|", text, re.M)
    assert rows, "docs/architecture.md has no layer table"
    numbers = sorted({int(n) for n, _ in rows})
    assert numbers == list(range(1, len(numbers) + 1)), f"layers numbered 1..N, got {numbers}"
    return [{p for n, p in rows if int(n) == number} for number in numbers]


def mermaid_edges(text: str) -> list[tuple[str, str]]:
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no Mermaid diagram"
    return re.findall(r"^\s*([\w.]+)\s*-->\s*([\w.]+)\s*$", block.group(1), re.M)


def test_the_layer_table_is_the_import_linter_contract() -> None:
    assert documented_layers(ARCHITECTURE.read_text()) == contract_layers()


def test_the_layer_diagram_names_every_package_and_points_only_down() -> None:
    layers = contract_layers()
    level = {package: i for i, layer in enumerate(layers) for package in layer}
    edges = mermaid_edges(ARCHITECTURE.read_text())
    assert {p for edge in edges for p in edge} == set(level)
    for upper, lower in edges:
        assert level[upper] < level[lower], f"{upper} --> {lower} points up or sideways"
    # Each layer reaches the one below it, so the diagram shows the whole order.
    for i in range(len(layers) - 1):
        assert any(level[a] == i and level[b] == i + 1 for a, b in edges), layers[i]
