"""`make bench-pipeline` fails above the issue's targets and reads per-component seconds."""

from __future__ import annotations

import json
from pathlib import Path

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
        "cold: median 61.0 s is above the 60 s target",
        "no-change re-run: median 8.5 s is above the 8 s target",
        "peak RSS 1300 MiB is above the 1229 MiB target",
    ]


def test_component_seconds_come_from_the_run_summary(tmp_path: Path) -> None:
    components = [{"id": "Transform", "status": "ran", "seconds": 12.5}]
    (tmp_path / "run_summary.json").write_text(json.dumps({"components": components}))
    assert bench.component_seconds(tmp_path) == {"Transform": 12.5}
    assert bench.component_seconds(tmp_path / "none") == {}
