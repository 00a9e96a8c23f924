"""A pytest plugin that runs one of N shards of the suite, balanced by recorded durations.

CI runs the suite as parallel jobs (`make test SHARD=2/4`); a whole test file stays in one shard,
so module and session fixtures (a pipeline run shared by a file's tests) run once. Files are
assigned greedily, longest first, to the shard with the least time so far, from the seconds in
tests/durations.json (`make test-durations` rewrites it); a file not recorded there is estimated
from its test count, a slow test at SLOW_TEST_SECONDS. Loaded with `-p tests.support.shard`.

`make test` runs a shard, or the whole suite, on pytest-xdist workers a file at a time; with
`--longest-first` the files are handed out longest first, by the same weights, so the wall time
is not one long file started last.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS_FILE = Path(__file__).resolve().parents[1] / "durations.json"
TEST_SECONDS = 0.5
SLOW_TEST_SECONDS = 60.0


def parse(text: str) -> tuple[int, int]:
    """`2/4` -> (2, 4); a clear error for anything else."""
    index, _, total = text.partition("/")
    if not (index.isdigit() and total.isdigit()) or not 1 <= int(index) <= int(total):
        raise pytest.UsageError(f"--shard must be I/N with 1 <= I <= N, got {text!r}")
    return int(index), int(total)


def assign(weights: dict[str, float], shards: int) -> list[list[str]]:
    """Files per shard: longest first, each to the least loaded shard (ties: the one with fewer
    files, then the lower index, so files recorded at 0.0 s still spread over the shards)."""
    loads = [0.0] * shards
    chosen: list[list[str]] = [[] for _ in range(shards)]
    for file in sorted(weights, key=lambda f: (-weights[f], f)):
        target = min(range(shards), key=lambda i: (loads[i], len(chosen[i]), i))
        chosen[target].append(file)
        loads[target] += weights[file]
    return chosen


def estimate(items: list[pytest.Item], recorded: dict[str, float]) -> dict[str, float]:
    """Seconds per test file: recorded, else from its tests (slow ones at SLOW_TEST_SECONDS)."""
    guessed: dict[str, float] = defaultdict(float)
    for item in items:
        slow = item.get_closest_marker("slow") is not None
        guessed[item.location[0]] += SLOW_TEST_SECONDS if slow else TEST_SECONDS
    return {file: recorded.get(file, guess) for file, guess in guessed.items()}


def longest_first(items: list[pytest.Item], weights: dict[str, float]) -> list[pytest.Item]:
    """The items with the longest file first; a file's tests stay together, in their order."""
    return sorted(items, key=lambda item: (-weights[item.location[0]], item.location[0]))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--shard", default="", help="run shard I of N (I/N), by recorded durations")
    parser.addoption("--record-durations", action="store_true", help=f"write {DURATIONS_FILE}")
    parser.addoption(
        "--longest-first",
        action="store_true",
        help="order test files longest first, by recorded durations (with pytest-xdist's "
        "--dist loadfile --no-loadscope-reorder, workers take the longest files first)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    text = config.getoption("--shard")
    longest = config.getoption("--longest-first")
    if not (text or longest):
        return
    recorded = json.loads(DURATIONS_FILE.read_text()) if DURATIONS_FILE.is_file() else {}
    weights = estimate(items, recorded)
    if text:
        index, total = parse(text)
        keep = set(assign(weights, total)[index - 1])
        config.hook.pytest_deselected(items=[i for i in items if i.location[0] not in keep])
        items[:] = [i for i in items if i.location[0] in keep]
    if longest:
        items[:] = longest_first(items, weights)


_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _seconds[report.location[0]] += report.duration  # setup, call and teardown


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With --record-durations: the files this session ran, updated in DURATIONS_FILE. Under
    pytest-xdist only the controller writes it: it gets every worker's reports, and a worker
    writing its own share at the same time could leave the file half-written for the others."""
    worker = hasattr(session.config, "workerinput")
    if session.config.getoption("--record-durations") and _seconds and not worker:
        recorded = json.loads(DURATIONS_FILE.read_text()) if DURATIONS_FILE.is_file() else {}
        recorded.update({file: round(seconds, 1) for file, seconds in _seconds.items()})
        DURATIONS_FILE.write_text(json.dumps(dict(sorted(recorded.items())), indent=1) + "\n")
