"""`mlops init` on the command line: decisions printed, data laid out in a clean checkout only,
a second run a no-op, and bad input exit 2 with the tree unchanged."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from mlops import cli
from tests.scaffold.test_decisions import dataset


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def init(root: Path, *args: str) -> int:
    return cli.main(["--root", str(root), "init", *args])


def test_init_prints_lays_out_and_is_a_no_op_the_second_time(tmp_path, checkout, capsys):
    path = dataset(tmp_path / "rooms.csv", label=lambda i, r: f"{r.gauss(50, 9):.2f}")
    args = ("--data", str(path), "--label", "y", "--span-by", "day")
    assert init(checkout, *args) == 0
    out = capsys.readouterr().out
    assert "Task: regression on 'y'" in out
    assert "rmse (lower is better): at most" in out and "predict the training mean" in out
    assert "Spans: 4 (by day, one span per month)" in out
    assert "Review (drafted decisions, by file):" in out and "models/schema/drift.yaml" in out
    assert "Wrote 9 file(s)" in out  # with models/features.py
    assert "Not yet written" not in out
    assert sorted(p.name for p in (checkout / "data" / "rooms").iterdir()) == [
        "loadtest_rows.csv",
        *(f"span-{n}" for n in range(1, 5)),
    ]
    for tracked in ("models/task.yaml", "models/schema/drift.yaml", "models/schema/schema.pbtxt"):
        assert (checkout / tracked).is_file(), tracked
    assert (checkout / "data" / "rooms" / "loadtest_rows.csv").is_file()
    assert "Not gated yet" not in out
    assert not (checkout / "build").exists()
    git(checkout, "add", "-A")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    stamps = {p: p.stat().st_mtime_ns for p in checkout.rglob("*") if ".git" not in p.parts}
    assert init(checkout, *args) == 0
    assert "Nothing changed." in capsys.readouterr().out
    assert git(checkout, "status", "--porcelain") == ""
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_dirty_tree_is_refused_unless_forced(tmp_path, checkout, capsys):
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice("xyz"))
    (checkout / "notes.txt").write_text("work in progress\n")
    assert init(checkout, "--data", str(path), "--label", "y") == 2
    err = capsys.readouterr().err
    assert "uncommitted changes (notes.txt)" in err and "--force" in err
    assert not (checkout / "data").exists()
    assert init(checkout, "--data", str(path), "--label", "y", "--force") == 0
    assert (checkout / "data" / "d" / "span-1" / "data.csv").is_file()


def test_bad_input_exits_2_and_leaves_the_tree_unchanged(tmp_path, checkout, capsys):
    rng = random.Random(1)
    path = tmp_path / "mixed.csv"
    rows = [f"{rng.random():.3f},{'ab'[i % 2]}" for i in range(300)]
    rows[41] = "n/a?,a"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    assert init(checkout, "--data", str(path), "--label", "y") == 2
    err = capsys.readouterr().err
    assert f"mlops init: error: {path}: column 'x': mixed types: value 'n/a?' (line 43)" in err
    assert "Traceback" not in err
    assert git(checkout, "status", "--porcelain", "--ignored") == ""
