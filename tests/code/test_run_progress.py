"""`mlops run` around the runner: Ctrl-C, the progress lines and the summary's counts, and span
folders left without data.

LocalDagRunner is replaced by a stand-in that logs what TFX's launcher logs for each node (the
messages RunProgress follows), so the real `mlops run` path (config, window ingestion, progress,
summary) runs in seconds. The Ctrl-C case goes through a real Beam pipeline: Beam is what turns
the KeyboardInterrupt into a logged RuntimeError.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from pathlib import Path

import apache_beam as beam
import pytest
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from mlops import cli
from pipeline import span_folders
from tests.support import ct_data as D
from tests.support import project
from tests.support.repo import copy_environments, update_overlay

LAUNCHER = logging.getLogger("tfx.orchestration.portable.launcher")


def _log_node(node_id: str, how: str) -> None:
    """What TFX logs for one node: running, then cached / a new execution / nothing (a
    resolver), then finished."""
    LAUNCHER.info("Component %s is running.", node_id)
    if how == "cached":
        LAUNCHER.info("A cached execution %d is used.", 7)
    elif how == "ran":
        LAUNCHER.info("Going to run a new execution: %s", "ExecutionInfo(...)")
    LAUNCHER.info("Component %s is finished.", node_id)


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """Two spans with data (a window of two: span 1 is ingested in a run of its own), and the
    folder a refused span 3 left behind once its CSV was removed."""
    rows = D.read(project.all_rows_csv())[:30]  # the project's own
    data = tmp_path / "data"
    for number in (1, 2):
        D.write_span(data, number, rows)
    (data / "span-3").mkdir()
    environments = copy_environments(tmp_path)
    update_overlay(environments, "dev", {"data": {"window_spans": 2}})
    return {"data": data, "environments": environments, "output": tmp_path / "out"}


def _run(workspace: dict[str, Path]) -> int:
    return cli.main(
        [
            "--environments",
            str(workspace["environments"]),
            "run",
            "--env",
            "dev",
            "--data",
            str(workspace["data"]),
            "--output",
            str(workspace["output"]),
        ]
    )


def test_the_summary_counts_exactly_the_lines_it_printed(
    workspace: dict[str, Path], monkeypatch, capfd
) -> None:
    """The window's span 1 is reused from cache in its own run, then the main run's
    CsvExampleGen runs: two CsvExampleGen lines, and the counts must say 1 cached."""

    def fake_run(self, pipeline) -> None:
        ids = [c.id for c in pipeline.components]
        if ids == ["CsvExampleGen"]:
            _log_node("CsvExampleGen", "cached")  # the window's older span
            return
        for node_id in ids:
            _log_node(node_id, "resolved" if node_id == "SpanWindow" else "ran")

    monkeypatch.setattr(LocalDagRunner, "run", fake_run)
    assert _run(workspace) == 0
    out = capfd.readouterr().out
    lines = [line.split() for line in out.splitlines() if line.startswith("  [")]
    printed = {
        status: sum(1 for line in lines if line[0] == f"[{status}]")
        for status in ("ran", "cached", "resolved")
    }
    assert printed["cached"] == 1 and printed["resolved"] == 1
    assert lines[0][:4] == ["[cached]", "CsvExampleGen", "(span", "1)"]
    assert (
        f"Components: {printed['ran']} ran, {printed['cached']} cached, "
        f"{printed['resolved']} resolved; ran: CsvExampleGen, " in out
    )
    summary = json.loads((workspace["output"] / "run_summary.json").read_text())
    statuses = [(c["id"], c["status"]) for c in summary["components"]]
    assert statuses[:2] == [("CsvExampleGen (span 1)", "cached"), ("CsvExampleGen", "ran")]
    assert len(statuses) == len(lines)


def test_an_empty_span_folder_is_warned_about_before_and_after_the_run(
    workspace: dict[str, Path], monkeypatch, capfd
) -> None:
    monkeypatch.setattr(LocalDagRunner, "run", lambda self, pipeline: None)
    assert _run(workspace) == 0
    out = capfd.readouterr().out
    warning = (
        f"Warning: span folder {workspace['data'] / 'span-3'} holds no file matching "
        f"span-{{SPAN}}/*.csv (data.input_pattern): span 3 is not part of this run; add its "
        f"data, or delete the folder"
    )
    assert out.count(warning) == 2  # when the run starts, and in its summary
    summary = json.loads((workspace["output"] / "run_summary.json").read_text())
    assert summary["warnings"] == [warning.removeprefix("Warning: ")]


def test_only_folders_without_a_matching_file_are_empty_spans(tmp_path: Path) -> None:
    from core import config

    data = tmp_path / "data"
    D.write_span(data, 1, D.bundled_span(1)[:3])
    (data / "span-2").mkdir(parents=True)
    (data / "span-2" / "notes.txt").write_text("not a CSV\n")  # no *.csv: still no data
    (data / "span-10").mkdir()
    (data / "span-x").mkdir()  # not a span number
    (data / "span-4.csv").write_text("")  # a file, not a folder
    cfg = config.load("dev", data_root=str(data))
    assert span_folders.empty_span_folders(cfg) == {
        2: str(data / "span-2"),
        10: str(data / "span-10"),
    }
    as_files = dataclasses.replace(cfg.data, input_pattern="span-{SPAN}.csv")
    assert span_folders.empty_span_folders(dataclasses.replace(cfg, data=as_files)) == {}


class _CtrlC(beam.DoFn):
    def process(self, element):
        raise KeyboardInterrupt


def test_ctrl_c_inside_a_beam_transform_says_interrupted_and_exits_130(
    workspace: dict[str, Path], monkeypatch, capfd
) -> None:
    """Beam turns a KeyboardInterrupt in a transform into `RuntimeError("KeyboardInterrupt
    [while running ...]")` and logs that exception object; the progress handler used to fail
    on it (AttributeError: no `startswith`) and the run exited 1."""

    def interrupted_run(self, pipeline) -> None:
        LAUNCHER.info("Component %s is running.", pipeline.components[0].id)
        with beam.Pipeline() as p:
            _ = p | beam.Create([1]) | beam.ParDo(_CtrlC())

    monkeypatch.setattr(LocalDagRunner, "run", interrupted_run)
    assert _run(workspace) == 130
    captured = capfd.readouterr()
    assert captured.err.rstrip().endswith("mlops run: interrupted")
    assert "AttributeError" not in captured.err + captured.out
    log = (workspace["output"] / "run.log").read_text()
    assert "KeyboardInterrupt [while running" in log  # Beam did wrap and log it


def test_the_progress_handler_survives_an_exception_object_as_message() -> None:
    """What Beam logs on a failing transform: `_LOGGER.exception(new_exn)`. A handler that
    raises there replaces the error being reported with its own."""
    from pipeline.progress import RunProgress

    out = io.StringIO()
    progress = RunProgress(out=out)
    logger = logging.getLogger("tests.progress")
    logger.addHandler(progress)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            logger.exception(RuntimeError("KeyboardInterrupt [while running 'ReadFromText']"))
        _log_node_to(logger, "StatisticsGen")
    finally:
        logger.removeHandler(progress)
    assert progress.nodes["StatisticsGen"].status == "ran"  # it still follows the run
    assert out.getvalue().splitlines()[-1].split()[:2] == ["[ran]", "StatisticsGen"]


def _log_node_to(logger: logging.Logger, node_id: str) -> None:
    logger.info("Component %s is running.", node_id)
    logger.info("Going to run a new execution: %s", "ExecutionInfo(...)")
    logger.info("Component %s is finished.", node_id)


def test_a_node_records_the_cpu_it_burned_apart_from_the_wall_time_it_waited() -> None:
    """The bench compares runs taken at different machine loads by CPU seconds: a node that
    computes gets them, a node that only waits does not."""
    import time

    from pipeline.progress import RunProgress

    progress = RunProgress(out=io.StringIO())
    logger = logging.getLogger("tests.progress.cpu")
    logger.addHandler(progress)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("Component %s is running.", "Busy")
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:
            pass
        logger.info("Component %s is finished.", "Busy")
        logger.info("Component %s is running.", "Idle")
        time.sleep(0.3)
        logger.info("Component %s is finished.", "Idle")
    finally:
        logger.removeHandler(progress)
    busy, idle = progress.nodes["Busy"], progress.nodes["Idle"]
    assert busy.cpu_seconds >= 0.3
    assert idle.seconds >= 0.3
    assert idle.cpu_seconds < 0.15
