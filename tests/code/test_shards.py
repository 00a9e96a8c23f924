"""CI's test shards: every test in exactly one shard, whole files together, balanced by time."""

from __future__ import annotations

import subprocess
import sys

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


def test_the_shards_partition_the_suite_by_file() -> None:
    where = [
        "tests/code/test_verdicts.py",
        "tests/code/test_exit_status.py",
        "tests/code/test_mutation_report.py",
    ]
    everything = _collect(*where)
    shards = [_collect("-p", "tests.support.shard", "--shard", f"{i}/3", *where) for i in (1, 2, 3)]
    assert sorted(t for s in shards for t in s) == sorted(everything)
    files = [{t.split("::")[0] for t in s} for s in shards]
    assert all(not (a & b) for i, a in enumerate(files) for b in files[i + 1 :])
    assert all(shards), "three files or more: no shard is empty"
