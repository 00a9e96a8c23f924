"""The rows the load test sends come from the data of the model under test, never from the
newest files on disk: a span the data gate refused is left on disk here, with the empty eval
split and the run summary its run wrote, as the issue found them. The spans hold the project's own
rows (whatever `mlops init` made it), read against its own schema.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tensorflow as tf

from core import config
from core.errors import ConfigError
from serving import eval_rows, loadtest
from store import release
from store import rows as R
from tests.support import ct_data as D
from tests.support import project
from tests.support.project import MODEL
from tests.support.servers import free_port, make_environment, mlops

# The project's rows, in order: spans 1 and 2 here are the first two slices of 40.
ROWS = D.read(project.all_rows_csv())
HEADER = list(ROWS[0])


def _release(version: int, spans: list[int], data_root: str) -> release.Release:
    return release.Release(
        model_name=MODEL,
        version=version,
        digest="sha256:" + "0" * 64,
        uri=f"build/dev/model_store/{MODEL}/{version}",
        spans=spans,
        data_root=data_root,
    )


def _summary(cfg: config.EnvironmentConfig, **fields) -> Path:
    path = Path(cfg.paths.pipeline_root).parent / "run_summary.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"environment": "dev", **fields}))
    return path


def span_rows(span: int) -> D.Rows:
    return [dict(r) for r in ROWS[40 * (span - 1) : 40 * span]]


class World:
    """Spans 1-2 with rows, span 3 refused (header only), and what the refused run left."""

    def __init__(self, root: Path) -> None:
        self.environments = make_environment(root)
        self.cfg = config.load("dev", self.environments)
        self.data = Path(self.cfg.data.root)
        for span in (1, 2):
            D.write_span(self.data, span, span_rows(span), HEADER)
        self.refused = D.write_span(self.data, 3, [], HEADER)
        # CsvExampleGen's eval splits: an older run's, and the refused run's (empty, newest).
        split = Path(self.cfg.paths.pipeline_root) / "CsvExampleGen" / "examples"
        for number, examples in ((5, self.span_examples(1, 3)), (9, [])):
            part = split / str(number) / "Split-eval" / "data_tfrecord-00000-of-00001.gz"
            part.parent.mkdir(parents=True)
            with tf.io.TFRecordWriter(str(part), options="GZIP") as writer:
                for example in examples:
                    writer.write(example)
            os.utime(part.parent, (number, number))  # 9 is the newest by file time
        _summary(self.cfg, pushed=False, pushed_version=None, eval_span=3, data_root=str(self.data))

    def release(self, *releases: release.Release) -> None:
        release.write(
            self.environments,
            release.Record("dev", current=releases[0], history=list(releases[1:])),
        )

    def span_examples(self, span: int, limit: int) -> list[bytes]:
        return R.examples(R.read_csv(self.data / f"span-{span}" / "data.csv", R.load_schema()))[
            :limit
        ]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_rows_come_from_the_released_models_eval_span_not_the_refused_one(world: World) -> None:
    """The issue's case: after a refused header-only span 3, the newest eval split was empty
    and 0 rows were sent. The release says spans 1-2, so the rows are span 2's."""
    world.release(_release(1, [1, 2], str(world.data)))
    assert loadtest.has_eval_split(world.cfg)
    examples = loadtest.eval_examples(world.cfg, 25)
    assert examples == world.span_examples(2, 25)
    data = eval_rows.model_data(world.cfg)
    assert (data.version, data.span, data.data_root) == (1, 2, str(world.data))
    assert data.source.endswith("release.yaml current")


def test_a_release_evaluated_on_a_span_without_rows_is_exit_2_with_the_reason(
    world: World,
) -> None:
    world.release(_release(1, [2, 3], str(world.data)))
    url = f"http://127.0.0.1:{free_port()}"
    result = mlops(
        "--environments", str(world.environments), "loadtest", "--env", "dev", "--url", url
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "ZeroDivisionError" not in result.stderr
    assert f"no rows to send: span 3 under {world.data} (version 1, " in result.stderr
    assert "release.yaml current) holds no data rows; nothing to load-test with" in result.stderr
    assert "0 failed" not in result.stdout and "Load test of" not in result.stdout
    assert not (Path(world.cfg.work_dir) / "loadtest").exists()  # locust never started


def test_the_version_the_server_serves_picks_whose_data_is_sent(world: World) -> None:
    """A newer pushed model, not yet released, is what a `latest` server answers with."""
    world.release(_release(1, [1, 2], str(world.data)), _release(3, [2], str(world.data)))
    _summary(world.cfg, pushed=True, pushed_version="2", eval_span=1, data_root=str(world.data))
    pick = eval_rows.model_data
    assert (pick(world.cfg).version, pick(world.cfg).span) == (1, 2)  # no server asked: release
    assert (pick(world.cfg, served={1, 2}).version, pick(world.cfg, served={1, 2}).span) == (2, 1)
    assert pick(world.cfg, served={1}).span == 2
    assert pick(world.cfg, served={3}).source.endswith("release.yaml history[0]")
    assert loadtest.eval_examples(world.cfg, 5, served={2}) == world.span_examples(1, 5)
    with pytest.raises(ConfigError) as caught:
        pick(world.cfg, served={1, 9})
    assert str(caught.value).startswith(
        f"the server serves version 9 of {MODEL}, and neither "
    ) and str(caught.value).endswith(
        "says which data that version was trained and evaluated on, so there are no rows of "
        "its own to send; pass --rows FILE.csv (or set loadtest.rows_file)"
    )
    assert not loadtest.has_eval_split(world.cfg, served={9})


def test_a_run_that_pushed_nothing_describes_no_model(world: World) -> None:
    """Only the refused run's summary: nothing says what the model under test was trained on."""
    assert not loadtest.has_eval_split(world.cfg)
    with pytest.raises(ConfigError) as caught:
        loadtest.eval_examples(world.cfg, 5)
    assert str(caught.value).startswith(
        "nothing says which data dev's model was trained and evaluated on: "
    )
    assert "run `mlops run --env dev` first, or pass --rows FILE.csv" in str(caught.value)


def test_a_pushed_run_without_a_release_is_the_model_under_test(world: World) -> None:
    _summary(world.cfg, pushed=True, pushed_version="4", eval_span=2, data_root=str(world.data))
    data = eval_rows.model_data(world.cfg)
    assert (data.version, data.span) == (4, 2) and data.source.endswith("run_summary.json")
    assert loadtest.eval_examples(world.cfg, 3) == world.span_examples(2, 3)


def test_data_in_a_bucket_is_not_read_here(world: World) -> None:
    world.release(_release(1, [1, 2], "gs://bucket/taxi"))
    assert not loadtest.has_eval_split(world.cfg)  # so the CLI falls back to loadtest.rows_file
    with pytest.raises(ConfigError) as caught:
        loadtest.eval_examples(world.cfg, 5)
    assert "span 2 under gs://bucket/taxi (version 1, " in str(caught.value)
    assert "which is not on this machine; pass --rows FILE.csv" in str(caught.value)


def test_a_span_that_is_gone_is_named(world: World) -> None:
    world.release(_release(1, [3, 4], str(world.data)))
    with pytest.raises(ConfigError) as caught:
        loadtest.eval_examples(world.cfg, 5)
    assert "the model under test was evaluated on span 4 under" in str(caught.value)
    assert "span(s) 4 not found under" in str(caught.value)
    assert "(available: 1-3)" in str(caught.value)


def test_a_row_the_data_gate_would_refuse_is_named_with_file_and_line(world: World) -> None:
    """A value outside a string domain of the project's schema (payment_type in the taxi's)."""
    feature = next(
        f
        for f in R.serving_features(R.load_schema())
        if f.HasField("domain") or f.HasField("string_domain")
    )
    source = f"domain {feature.domain!r}" if feature.HasField("domain") else "string_domain"
    rows = span_rows(2)[:5]
    rows[3][feature.name] = "Bitcoin"
    path = D.write_span(world.data, 2, rows, HEADER)
    world.release(_release(1, [1, 2], str(world.data)))
    with pytest.raises(ConfigError) as caught:
        loadtest.eval_examples(world.cfg, 10)
    assert (
        f"{path}:5: field '{feature.name}': value 'Bitcoin' is not in {source} of schema.pbtxt"
    ) in str(caught.value)


def test_an_unreadable_run_summary_is_named(world: World) -> None:
    path = _summary(world.cfg)
    path.write_text("{not json")
    with pytest.raises(ConfigError) as caught:
        eval_rows.model_data(world.cfg)
    assert "run_summary.json: not a readable run summary" in str(caught.value)


def test_the_versions_a_server_serves_are_those_it_reports_available() -> None:
    status = {
        "model_version_status": [
            {"version": "3", "state": "AVAILABLE"},
            {"version": "4", "state": "LOADING"},
            {"version": "2", "state": "AVAILABLE"},
            {"version": "", "state": "AVAILABLE"},
        ]
    }
    assert eval_rows.available_versions(status) == {2, 3}
    assert eval_rows.available_versions({}) == set()
    assert loadtest.served_versions(f"http://127.0.0.1:{free_port()}", MODEL) is None
