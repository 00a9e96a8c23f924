"""`make bench-registry`: push and pull time of the model to a registry, and its size.

Against a local CNCF Distribution registry on loopback (started here), with the newest model
`make demo` pushed to dev's folder store. Each push goes to a new repository, so every blob is
uploaded; each pull starts from an empty cache and checks all digests, as a fresh runner does.

Environment: BENCH_REPEAT (5).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import core  # noqa: F401
from core import config
from store.model_store import FolderStore, open_store
from store.oci import pack
from tools.local_registry import Registry


def _figures(name: str, seconds: list[float]) -> str:
    return (
        f"{name}: median {statistics.median(seconds) * 1000:.0f} ms, min "
        f"{min(seconds) * 1000:.0f}, max {max(seconds) * 1000:.0f} ({len(seconds)} runs)"
    )


def main() -> int:
    repeat = int(os.environ.get("BENCH_REPEAT", "5"))
    cfg = config.load("dev")
    newest = FolderStore(cfg.model_store_dir).newest()
    if newest is None:
        print(f"no model in {cfg.model_store_dir}: run `make demo` first", file=sys.stderr)
        return 1
    model = Path(newest.ref)
    tree_bytes = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    layer, _ = pack(model, newest.version)
    print(
        f"model version {newest.version}: SavedModel {tree_bytes / 1e6:.2f} MB, artifact layer "
        f"(tar+gzip) {len(layer) / 1e6:.2f} MB"
    )
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp) / "registry")
        try:
            pushes, pulls = [], []
            for i in range(repeat):
                store = open_store(registry.store_uri(f"bench/run{i}") + f"/{cfg.model_name}")
                start = time.perf_counter()
                artifact = store.publish(model, newest.version, {})
                pushes.append(time.perf_counter() - start)
                start = time.perf_counter()
                store.materialize(artifact, Path(tmp) / f"cache{i}")
                pulls.append(time.perf_counter() - start)
            print(_figures("push (all blobs uploaded)", pushes))
            print(_figures("pull (cold cache, digests checked)", pulls))
        finally:
            registry.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
