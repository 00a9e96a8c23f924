"""Sampled requests for the serving-drift tests: planted rows written into a request-log store
the way the request logger writes them (a tf.Example each, read back by serving.example_wire)."""

from __future__ import annotations

import uuid
from pathlib import Path

from serving.example_wire import parse_example
from serving.request_logger import _json_values
from store import request_log as L
from store import rows as R
from tests.support import ct_data as D
from tools.local_registry import Registry


def typed(rows: D.Rows, tmp: Path) -> list[R.Row]:
    """CSV-text rows as the schema types them, without the label source (what a client sends)."""
    path = D.write_span(tmp, 1, rows)
    typed_rows = R.read_csv(path, R.load_schema(), serving=False)
    return [{k: v for k, v in r.items() if k != "tips"} for r in typed_rows]


def write_samples(store: Path, rows: D.Rows, fields: list[str], tmp: Path) -> int:
    writer = L.Writer(store, fields, max_file_bytes=1024 * 1024, max_files=10)
    parsed = [parse_example(R.to_example(r)) for r in typed(rows, tmp)]
    return writer.append({k: _json_values(v) for k, v in p.items()} for p in parsed)


def registry_store(registry: Registry, name: str) -> str:
    """An `oci://` request-log store no other test writes to: the session's registry is shared by
    every test of a worker, and retention counts what a repository already holds."""
    return registry.store_uri(f"t{uuid.uuid4().hex[:12]}/{name}")
