"""`mlops init` on the command line: decisions printed, bad input exit 2 with the file named."""

from __future__ import annotations

import random

from mlops import cli
from tests.scaffold.test_decisions import dataset


def test_init_prints_the_decisions_and_the_review_list(tmp_path, capsys):
    path = dataset(tmp_path / "rooms.csv", label=lambda i, r: f"{r.gauss(50, 9):.2f}")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["init", "--data", str(path), "--label", "y", "--span-by", "day"]) == 0
    out = capsys.readouterr().out
    assert "Task: regression on 'y'" in out
    assert "rmse (lower is better): at most" in out and "predict the training mean" in out
    assert "Spans: 4 (by day, one span per month)" in out
    assert "Review (drafted decisions, by file):" in out and "models/schema/drift.yaml" in out
    assert "Name: rooms." in out
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_init_refuses_bad_input_with_exit_2(tmp_path, capsys):
    rng = random.Random(1)
    path = tmp_path / "mixed.csv"
    rows = [f"{rng.random():.3f},{'ab'[i % 2]}" for i in range(300)]
    rows[41] = "n/a?,a"
    path.write_text("x,y\n" + "\n".join(rows) + "\n")
    assert cli.main(["init", "--data", str(path), "--label", "y"]) == 2
    err = capsys.readouterr().err
    assert f"mlops init: error: {path}: column 'x': mixed types: value 'n/a?' (line 43)" in err
    assert "Traceback" not in err
