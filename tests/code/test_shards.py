"""CI's test shards: every test in exactly one shard, whole files together, balanced by time."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from types import SimpleNamespace

import pytest

from core import config
from tests.support import shard


def test_files_go_longest_first_to_the_least_loaded_shard() -> None:
    weights = {"a.py": 10.0, "b.py": 6.0, "c.py": 5.0, "d.py": 1.0}
    assert shard.assign(weights, 2) == [["a.py", "d.py"], ["b.py", "c.py"]]
    assert shard.assign(weights, 5)[4] == []  # more shards than files: some run nothing


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_a_malformed_shard_is_refused(text: str) -> None:
    with pytest.raises(pytest.UsageError, match="--shard must be I/N"):
        shard.parse(text)


def _collect(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=config.REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 5), done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


# Three small test files, collected for real by the plugin tests below.
WHERE = (
    "tests/code/test_verdicts.py",
    "tests/code/test_exit_status.py",
    "tests/code/test_mutation_report.py",
)


def test_the_shards_partition_the_suite_by_file() -> None:
    where = WHERE
    everything = _collect(*where)
    shards = [_collect("-p", "tests.support.shard", "--shard", f"{i}/3", *where) for i in (1, 2, 3)]
    assert sorted(t for s in shards for t in s) == sorted(everything)
    files = [{t.split("::")[0] for t in s} for s in shards]
    assert all(not (a & b) for i, a in enumerate(files) for b in files[i + 1 :])
    assert all(shards), "three files or more: no shard is empty"


def test_longest_first_hands_out_the_longest_file_first_and_keeps_each_file_together() -> None:
    items = [
        SimpleNamespace(location=(file, line, name))
        for file, line, name in [
            ("a.py", 1, "a1"),
            ("a.py", 2, "a2"),
            ("b.py", 1, "b1"),
            ("c.py", 1, "c1"),
            ("c.py", 2, "c2"),
            ("c.py", 3, "c3"),
        ]
    ]
    weights = {"a.py": 1.0, "b.py": 30.0, "c.py": 5.0}
    ordered = shard.longest_first(items, weights)  # type: ignore[arg-type]
    assert [i.location[2] for i in ordered] == ["b1", "c1", "c2", "c3", "a1", "a2"]


def test_files_recorded_at_no_time_still_spread_over_the_shards() -> None:
    """A file recorded at 0.0 s adds nothing to a shard's load: ties go to the shard with fewer
    files, or every such file would pile onto the first shard."""
    chosen = shard.assign({"a.py": 9.0, "b.py": 0.0, "c.py": 0.0, "d.py": 0.0}, 3)
    assert chosen == [["a.py"], ["b.py", "d.py"], ["c.py"]]


def test_longest_first_reorders_the_collection_and_drops_no_test() -> None:
    where = WHERE
    everything = _collect(*where)
    ordered = _collect("-p", "tests.support.shard", "--longest-first", *where)
    assert sorted(ordered) == sorted(everything)
    files = [t.split("::")[0] for t in ordered]
    runs = [f for i, f in enumerate(files) if i == 0 or files[i - 1] != f]
    assert len(runs) == len(set(runs)) == 3, "each file's tests stay together"
    recorded = (
        json.loads(shard.DURATIONS_FILE.read_text()) if shard.DURATIONS_FILE.is_file() else {}
    )
    counts = Counter(t.split("::")[0] for t in everything)
    weight = {f: recorded.get(f, n * shard.TEST_SECONDS) for f, n in counts.items()}
    assert runs == sorted(weight, key=lambda f: (-weight[f], f))
