"""`make bench-serving`: how much of the model's in-process speed survives serving.

In one run: the in-process ceiling (single-example calls per second through the SavedModel's
`serving_default`), then throughput and latency through `mlops serve` under locust at a few
concurrency levels, and the served/ceiling ratio. Load generator and server share this machine's
cores, so the ratio is the figure to compare across machines; absolute numbers are noisy.

Environment: BENCH_ENV (dev), BENCH_USERS ("1,4,16"), BENCH_SECONDS (15).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import core  # noqa: F401
from core import config
from core.errors import MlopsError
from serving import backends, loadtest
from store import model_store

TARGET_USERS, TARGET_RATIO, TARGET_P95_MS = 16, 0.4, 25.0


def ceiling(model_dir: Path, examples: list[bytes], seconds: float = 5.0) -> tuple[float, float]:
    """Single-example calls per second and median call latency (ms), in this process."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    inputs = [tf.constant([e]) for e in examples]
    for x in inputs[:50]:
        fn(examples=x)
    latencies = []
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        fn(examples=inputs[i % len(inputs)])
        latencies.append(time.perf_counter() - started)
        i += 1
    return len(latencies) / sum(latencies), statistics.median(latencies) * 1000


def main() -> int:
    env = os.environ.get("BENCH_ENV", "dev")
    users = [int(u) for u in os.environ.get("BENCH_USERS", "1,4,16").split(",")]
    seconds = int(os.environ.get("BENCH_SECONDS", "15"))
    cfg = config.load(env)
    store = Path(cfg.model_store_dir)
    pushed = model_store.versions(store)
    if not pushed:
        print(f"bench-serving: no model in {store}; run `make demo` first", file=sys.stderr)
        return 2
    examples = loadtest.eval_examples(cfg, cfg.loadtest.rows)
    calls_per_s, call_ms = ceiling(store / str(pushed[-1]), examples)
    print(
        f"in-process ceiling: {calls_per_s:.0f} calls/s (median call {call_ms:.2f} ms), "
        f"version {pushed[-1]}",
        flush=True,
    )

    backend = backends.choose_backend(os.environ.get("BENCH_BACKEND", "auto"))
    handle = backends.start(cfg, backend)
    rows = []
    try:
        backends.wait_ready(handle, cfg.serving.readiness_timeout_seconds)
        print(f"serving with {handle.describe()}", flush=True)
        for n in users:
            result = loadtest.run(
                cfg,
                handle.rest_url,
                examples,
                Path(cfg.work_dir) / "bench-serving" / f"users-{n}",
                users=n,
                seconds=seconds,
            )
            rows.append((n, result))
            print(
                f"  {n:>3} users: {result.rps:7.1f} req/s  p50 {result.p50_ms:5.1f} ms  "
                f"p95 {result.p95_ms:5.1f} ms  p99 {result.p99_ms:5.1f} ms  "
                f"failures {result.failures}  ratio {result.rps / calls_per_s:.2f}",
                flush=True,
            )
    except MlopsError as exc:
        print(f"bench-serving: {exc}", file=sys.stderr)
        return 1
    finally:
        backends.stop(handle, cfg)

    print("\nusers  req/s   p50 ms  p95 ms  p99 ms  served/ceiling")
    for n, r in rows:
        print(
            f"{n:>5}  {r.rps:6.1f}  {r.p50_ms:6.1f}  {r.p95_ms:6.1f}  {r.p99_ms:6.1f}  "
            f"{r.rps / calls_per_s:.2f}"
        )
    target = dict(rows).get(TARGET_USERS)
    if target is not None:
        ratio = target.rps / calls_per_s
        met = ratio >= TARGET_RATIO and target.p95_ms < TARGET_P95_MS
        print(
            f"target at {TARGET_USERS} users (ratio >= {TARGET_RATIO}, p95 < "
            f"{TARGET_P95_MS:g} ms): ratio {ratio:.2f}, p95 {target.p95_ms:.0f} ms -> "
            f"{'met' if met else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
