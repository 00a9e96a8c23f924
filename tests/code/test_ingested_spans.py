"""A span ingested by an earlier run is reused, not ingested again, while its files are unchanged.

One real CsvExampleGen run on a few rows (as the full pipeline ingests its newest span), then
span 2 arrives: span 1 is now an older span of the window, and the run must find it in ML
Metadata instead of starting its one-node ingestion run. The spans hold the project's own rows, and
the window is two spans, whatever the project configures.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import pytest
from tfx.orchestration import metadata
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline

from core import config
from pipeline import definition, ingested, runner
from pipeline.beam_args import pipeline_beam_args
from pipeline.progress import RunProgress
from tests.support import ct_data as D
from tests.support import project
from tests.support.repo import copy_environments, update_overlay

# The project's rows: span 1 is the first 30, span 2 the next 30.
ROWS = D.read(project.all_rows_csv())


@pytest.fixture(scope="module")
def ingested_span_1(tmp_path_factory: pytest.TempPathFactory):
    """A dev config whose ML Metadata holds span 1, ingested as the newest span; and what was
    logged while it ran."""
    root = tmp_path_factory.mktemp("ingested")
    environments = copy_environments(root)
    update_overlay(environments, "dev", {"data": {"window_spans": 2}})  # span 1 stays in it
    D.write_span(root / "data", 1, ROWS[:30])
    cfg = config.load(
        "dev", environments, data_root=str(root / "data"), output_root=str(root / "out")
    )
    Path(cfg.paths.metadata).parent.mkdir(parents=True, exist_ok=True)
    logged, absl = Recorder(), logging.getLogger("absl")
    level = absl.level
    absl.addHandler(logged)
    absl.setLevel(logging.INFO)
    try:
        _run_example_gen(cfg)
    finally:
        absl.removeHandler(logged)
        absl.setLevel(level)
    D.write_span(root / "data", 2, ROWS[30:60])
    return cfg, logged.messages


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _run_example_gen(cfg) -> None:
    LocalDagRunner().run(
        Pipeline(
            pipeline_name=cfg.pipeline_name,
            pipeline_root=cfg.paths.pipeline_root,
            components=[definition._example_gen(cfg)],  # no range: the newest span, as a run
            enable_cache=True,
            metadata_connection_config=metadata.sqlite_metadata_connection_config(
                cfg.paths.metadata
            ),
            beam_pipeline_args=list(pipeline_beam_args(cfg)),
        )
    )


def test_an_ingested_span_is_reused_when_a_newer_span_arrives(
    ingested_span_1, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = ingested_span_1
    assert ingested.is_ingested(cfg, 1)
    assert not ingested.is_ingested(cfg, 2)  # the run's own CsvExampleGen ingests it

    def no_ingestion(self, pipeline) -> None:
        raise AssertionError("span 1 was ingested again")

    monkeypatch.setattr(LocalDagRunner, "run", no_ingestion)
    out = io.StringIO()
    progress = RunProgress(out)
    runner._ingest_window(cfg, out, progress)
    assert "[cached]   CsvExampleGen (span 1) (0.0 s)" in out.getvalue()
    assert progress.nodes["CsvExampleGen (span 1)"].status == "cached"


def test_a_span_whose_files_changed_is_ingested_again(ingested_span_1) -> None:
    cfg, _ = ingested_span_1
    csv = next(Path(cfg.data.root, "span-1").glob("*.csv"))
    stat = csv.stat()
    try:
        os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
        assert not ingested.is_ingested(cfg, 1)
    finally:
        os.utime(csv, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ingested.is_ingested(cfg, 1)


def test_nothing_is_ingested_before_the_first_run(tmp_path: Path) -> None:
    D.write_span(tmp_path / "data", 1, ROWS[:3])
    cfg = config.load("dev", data_root=str(tmp_path / "data"), output_root=str(tmp_path / "out"))
    assert not ingested.is_ingested(cfg, 1)


def test_a_local_run_builds_no_package_of_tfx(ingested_span_1) -> None:
    """Without a dependency flag, each Beam component runs `setup.py sdist` of TFX (~3 s)."""
    _, messages = ingested_span_1
    assert any("Nonempty beam arg sdk_container_image" in m for m in messages)
    assert not [m for m in messages if "tfx_ephemeral" in m or "temp setup file" in m]
