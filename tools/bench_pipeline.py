"""`make bench-pipeline`: wall time and peak memory of a cold run and a no-change re-run.

Each run is a separate `mlops run --env dev` process on the full bundled data, in a fresh output
directory, measured from outside (wall clock, and the child's peak resident set via wait4), so the
figures include interpreter start-up and imports exactly as a user experiences them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGETS = {"cold": 120.0, "no-change re-run": 20.0}


def timed_run(output: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MiB, exit status) of one `mlops run`."""
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
    return wall, usage.ru_maxrss / 1024, proc.returncode


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
    for i in range(args.repeat):
        root = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
        try:
            for phase in results:
                wall, rss, code = timed_run(root)
                if code != 0:
                    print(f"run {i + 1} {phase}: mlops run failed with exit {code}")
                    return 1
                results[phase].append((wall, rss))
                print(
                    f"run {i + 1} {phase:<17} wall {wall:7.1f} s   peak RSS {rss:7.0f} MiB",
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
            f"{phase:<18}{statistics.median(walls):>10.1f} s{min(walls):>7.1f}"
            f"{max(walls):>8.1f}{max(r for _, r in rows):>6.0f} MiB{TARGETS[phase]:>7.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
