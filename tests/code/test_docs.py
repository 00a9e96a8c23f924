"""The docs say what the code enforces: the layer table is the import-linter contract, and
every relative link of the README, CONTRIBUTING and docs/ reaches a file and heading."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from core.paths import REPO_ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from the lock
    import tomli as tomllib

ROOT = REPO_ROOT
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")])


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


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    headings = re.findall(r"^#{1,6} (.+?)\s*$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_heading(page: Path) -> None:
    for link in _links(page):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto: and such are not checked offline
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.name}: link {link} names no file"
        if anchor:
            assert target.suffix == ".md", f"{page.name}: anchor on a non-Markdown file: {link}"
            assert anchor in _anchors(target), f"{page.name}: no heading for {link}"
