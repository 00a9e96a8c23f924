"""The JSON Schema of the environment files, generated from the typed models.

Editors with a YAML language server validate `environments/*/config.yaml` and the shared layers
as you type, from the `# yaml-language-server: $schema=...` first line of each file. A file
holds only part of an environment, so the schema requires no key; the loader checks that the
merged result has them all, and checks the rules that span several keys.

Regenerate it after changing `core/config_models.py` with `make config-schema` (which runs
`python -m core.config_schema`); `python -m core.config_schema --check` and the config tests fail
while the committed copy is stale.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import TypeAdapter

from core.config_layers import EXTENDS
from core.config_models import NAME_PATTERN, EnvironmentValues
from core.paths import ENVIRONMENTS_DIR
from core.uris import display

SCHEMA_FILE = ENVIRONMENTS_DIR / "config.schema.json"
_LAYER_NAME = {"type": "string", "pattern": NAME_PATTERN}


def schema() -> dict[str, Any]:
    """The models' JSON Schema, with nothing required and `extends` allowed at the top."""
    body = _strip(TypeAdapter(EnvironmentValues).json_schema())
    body["properties"] = {
        EXTENDS: {
            "description": "shared layers (environments/<name>.yaml) applied above the base "
            "and below this file, in order",
            "anyOf": [_LAYER_NAME, {"type": "array", "items": _LAYER_NAME}],
        },
        **body["properties"],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Environment configuration (part of one: base, a shared layer or an overlay)",
        **body,
    }


def _strip(node: Any) -> Any:
    """Drop `required` (each file holds a part) and pydantic's generated titles."""
    if isinstance(node, dict):
        return {
            key: _strip(value)
            for key, value in node.items()
            if key != "required" and not (key == "title" and isinstance(value, str))
        }
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def render() -> str:
    return json.dumps(schema(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    """Write the schema; with --check, only say whether the committed copy is current."""
    text = render()
    if "--check" in argv:
        if SCHEMA_FILE.exists() and SCHEMA_FILE.read_text() == text:
            print(f"{display(SCHEMA_FILE)} is up to date")
            return 0
        print(
            f"{display(SCHEMA_FILE)} is stale: run `make config-schema` and commit it",
            file=sys.stderr,
        )
        return 1
    SCHEMA_FILE.write_text(text)
    print(f"wrote {display(SCHEMA_FILE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
