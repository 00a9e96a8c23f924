"""Offline validation of the rendered custom resources against the vendored CRD schemas
(infra/crds/, refreshed by tools/refresh_crds.py), strictly: an object schema that lists its
properties refuses any other key, so a misspelt field fails here instead of being pruned
silently by the API server."""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema

from tools.refresh_crds import CRDS_DIR, SOURCES


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def _validators() -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    out = {}
    for source in SOURCES:
        doc = json.loads((CRDS_DIR / f"{source.kind.lower()}.json").read_text())
        schema = _strict(doc["schema"])
        # metadata is the API server's ObjectMeta, not part of the CRD's schema.
        schema["properties"]["metadata"] = {"type": "object"}
        out[(doc["apiVersion"], doc["kind"])] = jsonschema.Draft7Validator(schema)
    return out


def kinds() -> set[str]:
    return {kind for _, kind in _validators()}


def errors(doc: dict[str, Any]) -> list[str]:
    """Every violation of `doc` against its kind's vendored schema, as path: message."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    validator = _validators().get(key)
    if validator is None:
        return [f"no vendored schema for {key[0]} {key[1]} (known: {sorted(_validators())})"]
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in validator.iter_errors(doc)
    ]
