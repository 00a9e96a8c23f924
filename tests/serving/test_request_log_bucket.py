"""The request-log store in a bucket, through tf.io.gfile: run on TensorFlow's in-memory ram://
filesystem, which takes the calls gs:// takes. Rotated files are published, read back newest
first and kept to max_files; a malformed line is skipped and counted; a file the reader cannot
decode names itself."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from core.errors import ConfigError
from store import request_log as L
from store.request_log import Publisher


@pytest.fixture
def bucket() -> str:
    return f"ram://request-log-{uuid.uuid4().hex}/dev"


def test_rotated_files_are_published_read_back_and_kept_to_max_files(
    bucket: str, tmp_path: Path
) -> None:
    writer = L.Writer(tmp_path / "spool", ["n"], max_file_bytes=1024, max_files=3)
    publisher = Publisher(bucket, tmp_path / "spool", max_files=3)
    for n in range(400):
        before = writer.rotations
        writer.append([{"n": [n], "secret": ["Ada"]}])
        if writer.rotations != before:
            assert publisher.publish_pending() == ""
    remote = L.open_remote(bucket)
    assert len(remote.files()) == 3 and publisher.counts["published"] > 3
    assert publisher.counts["remote_deleted"] == publisher.counts["published"] - 3
    assert publisher.pending() == []
    window = L.read_window(bucket, 10**6)
    numbers = [r["n"][0] for r in window.rows]
    unpublished = [r["n"][0] for r in L.read_window(tmp_path / "spool", 10**6).rows]
    assert numbers and numbers == list(range(numbers[0], unpublished[0]))
    assert window.files == 3 and all(set(r) == {L.TIME, "n"} for r in window.rows)
    assert L.read_window(bucket, 5).rows == window.rows[-5:]


def test_a_malformed_line_is_skipped_and_counted_and_an_undecodable_file_named(
    bucket: str, tmp_path: Path
) -> None:
    writer = L.Writer(tmp_path / "spool", ["n"], max_file_bytes=1 << 20, max_files=10)
    writer.append([{"n": [1]}, {"n": [2]}])
    with (tmp_path / "spool" / L.CURRENT).open("a") as f:
        f.write("{broken\n")
    writer.rotate()
    assert Publisher(bucket, tmp_path / "spool", max_files=10).publish_pending() == ""
    window = L.read_window(bucket, 100)
    assert [r["n"] for r in window.rows] == [[1], [2]] and window.skipped == 1
    assert window.first_problem.startswith(f"{bucket}/requests-") and ":3: not JSON" in (
        window.first_problem
    )
    (tmp_path / "spool" / "requests-99999999999999999999.jsonl").write_bytes(b"\xff\xfe")
    assert Publisher(bucket, tmp_path / "spool", max_files=10).publish_pending() == ""
    with pytest.raises(ConfigError, match=r"requests-99999999999999999999\.jsonl: unreadable"):
        L.read_window(bucket, 100)


def test_an_empty_bucket_folder_is_zero_samples(bucket: str) -> None:
    window = L.read_window(bucket, 100)
    assert window.rows == [] and window.files == 0
