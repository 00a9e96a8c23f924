"""`make bench-pipeline` fails above the issue's targets and reads per-component seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import bench_pipeline as bench


def test_medians_within_the_targets_pass() -> None:
    results = {
        "cold": [(59.0, 900.0), (70.0, 900.0), (50.0, 900.0)],
        "no-change re-run": [(7.5, 800.0)],
    }
    assert bench.failures(results) == []


def test_a_median_or_the_peak_memory_above_its_target_fails_in_words() -> None:
    results = {
        "cold": [(61.0, 900.0), (62.0, 1300.0), (50.0, 900.0)],
        "no-change re-run": [(8.5, 800.0)],
    }
    assert bench.failures(results) == [
        "cold: median 61.00 s is not under the 60 s target",
        "no-change re-run: median 8.50 s is not under the 8 s target",
        "peak RSS 1300.0 MiB is not under the 1228.8 MiB target",
    ]


def test_a_median_that_rounds_to_the_target_is_compared_unrounded() -> None:
    # 8.04 prints as 8.0 at one decimal; it is still not under 8 s.
    over = {"cold": [(50.0, 900.0)], "no-change re-run": [(7.9, 800.0), (8.04, 800.0), (8.2, 1)]}
    assert bench.failures(over) == ["no-change re-run: median 8.04 s is not under the 8 s target"]
    at = {"cold": [(60.0, 900.0)], "no-change re-run": [(7.96, 800.0)]}
    assert bench.failures(at) == ["cold: median 60.00 s is not under the 60 s target"]
    rss = {"cold": [(50.0, 1228.9)], "no-change re-run": [(7.0, 800.0)]}
    assert bench.failures(rss) == ["peak RSS 1228.9 MiB is not under the 1228.8 MiB target"]


def test_the_bench_exits_1_naming_the_target_a_median_missed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    walls = iter([47.6, 8.02, 47.0, 7.9, 48.0, 8.03])  # cold, re-run, ... per pair
    monkeypatch.setattr(bench, "timed_run", lambda output: (next(walls), 900.0, 0, 10.0))
    assert bench.main(["--repeat", "3"]) == 1
    out = capsys.readouterr().out
    assert "bench-pipeline: FAIL no-change re-run: median 8.02 s is not under the 8 s target" in out
    assert "cold" not in out.split("FAIL", 1)[1]


def test_the_bench_exits_0_when_every_target_is_met(monkeypatch: pytest.MonkeyPatch) -> None:
    walls = iter([47.6, 7.0, 47.0, 6.9, 48.0, 7.1])
    monkeypatch.setattr(bench, "timed_run", lambda output: (next(walls), 900.0, 0, 10.0))
    assert bench.main(["--repeat", "3"]) == 0


def test_component_seconds_come_from_the_run_summary(tmp_path: Path) -> None:
    components = [
        {"id": "Transform", "status": "ran", "seconds": 12.5, "cpu_seconds": 11.0},
        {"id": "Trainer", "status": "ran", "seconds": 3.0},  # a summary from before CPU figures
    ]
    (tmp_path / "run_summary.json").write_text(json.dumps({"components": components}))
    assert bench.component_seconds(tmp_path) == {"Transform": (12.5, 11.0), "Trainer": (3.0, 0.0)}
    assert bench.component_seconds(tmp_path / "none") == {}
