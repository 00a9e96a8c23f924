"""`make bench-pipeline`: wall time and peak memory of a cold run and a no-change re-run.

Each run is a separate `mlops run --env dev` process on the full bundled data, in a fresh output
directory, measured from outside (wall clock, and the child's peak resident set via wait4), so the
figures include interpreter start-up and imports exactly as a user experiences them. Per-component
seconds come from each run's run_summary.json. On a machine shared with other work the wall
times stretch with the load, so each run also prints its CPU seconds (user + system, which the
load hardly changes) and the 1-minute load average, to compare runs taken at different loads.
Exits 1 when a median is not under its target or the peak RSS not under PEAK_RSS_TARGET_MIB,
compared unrounded (a median of 8.04 s misses an 8 s target though it prints as 8.0 at one
decimal): the targets are the issue's, for this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"cold": 60.0, "no-change re-run": 8.0}
PEAK_RSS_TARGET_MIB = 1.2 * 1024


def component_seconds(output: Path) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per component of the run whose summary is in `output` (empty if
    none). CPU is the run process's, all threads, while the component ran."""
    summary = output / "run_summary.json"
    if not summary.is_file():
        return {}
    return {
        c["id"]: (float(c["seconds"]), float(c.get("cpu_seconds", 0.0)))
        for c in json.loads(summary.read_text())["components"]
    }


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):>8.1f}{min(values):>8.1f}{max(values):>8.1f}"


def failures(results: dict[str, list[tuple[float, float]]]) -> list[str]:
    """Each target a measurement missed, in words. The targets are "under": a figure equal to
    its target misses it, and nothing is rounded before the comparison."""
    missed = []
    for phase, rows in results.items():
        median = statistics.median(w for w, _ in rows)
        if not median < TARGETS[phase]:
            missed.append(
                f"{phase}: median {median:.2f} s is not under the {TARGETS[phase]:g} s target"
            )
    peak = max(r for rows in results.values() for _, r in rows)
    if not peak < PEAK_RSS_TARGET_MIB:
        missed.append(
            f"peak RSS {peak:.1f} MiB is not under the {PEAK_RSS_TARGET_MIB:.1f} MiB target"
        )
    return missed


def timed_run(output: Path) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MiB, exit status, CPU seconds) of one `mlops run`."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlops.cli", "run", "--env", "dev", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.read().decode()[-2000:] if proc.stderr else "")
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--repeat",
        type=int,
        default=int(os.environ.get("REPEAT", "1")),
        help="cold/re-run pairs to measure (default 1, or $REPEAT)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be at least 1, got {args.repeat}")
    results: dict[str, list[tuple[float, float]]] = {"cold": [], "no-change re-run": []}
    components: dict[str, dict[str, list[tuple[float, float]]]] = {p: {} for p in results}
    for i in range(args.repeat):
        root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
        try:
            for phase in results:
                wall, rss, code, cpu = timed_run(root)
                if code != 0:
                    print(f"run {i + 1} {phase}: mlops run failed with exit {code}")
                    return 1
                results[phase].append((wall, rss))
                for node, seconds in component_seconds(root).items():
                    components[phase].setdefault(node, []).append(seconds)
                print(
                    f"run {i + 1} {phase:<17} wall {wall:7.1f} s   peak RSS {rss:7.0f} MiB"
                    f"   CPU {cpu:6.1f} s   load {os.getloadavg()[0]:5.2f}",
                    flush=True,
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(
        f"\nbench-pipeline: {os.cpu_count()} cores, full bundled data, env dev, "
        f"{args.repeat} pair(s)"
    )
    print(f"{'phase':<18}{'wall median':>12}{'min':>8}{'max':>8}{'peak RSS':>10}{'target':>9}")
    for phase, rows in results.items():
        walls = [w for w, _ in rows]
        print(
            f"{phase:<18}{statistics.median(walls):>10.2f} s{min(walls):>7.2f}"
            f"{max(walls):>8.2f}{max(r for _, r in rows):>6.0f} MiB{TARGETS[phase]:>7g} s"
        )
    for phase, nodes in components.items():
        print(
            f"\n{phase}: seconds per component{'median':>14}{'min':>8}{'max':>8}{'CPU median':>12}"
        )
        for node, times in nodes.items():
            cpu = statistics.median(c for _, c in times)
            print(f"  {node:<38}{spread([w for w, _ in times])}{cpu:>12.1f}")
    missed = failures(results)
    for line in missed:
        print(f"bench-pipeline: FAIL {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
