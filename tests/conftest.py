"""Shared fixtures. Importing `mlops` first sets TF_USE_LEGACY_KERAS before TensorFlow loads."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import core  # noqa: F401
from core import config
from tests.support import fast_loop
from tests.support.repo import (
    FULL_DATA,
    copy_environments,
)

# Hermetic: the overlays pick dev's registry store on GitHub Actions (GITHUB_ACTIONS=true) and
# read GITHUB_REPOSITORY / MODEL_REGISTRY; tests that want those set them themselves.
for _name in (
    "GITHUB_ACTIONS",
    "GITHUB_REPOSITORY",
    "MODEL_REGISTRY",
    "GITHUB_TOKEN",
    "MODEL_REGISTRY_USERNAME",
    "MODEL_REGISTRY_PASSWORD",
    "MLOPS_SOURCE_COMMIT",
    "GITHUB_SHA",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """A real OCI registry (CNCF Distribution) on loopback, for the whole session."""
    from tools.local_registry import Registry

    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    return copy_environments(tmp_path)


# --- One real tf.Transform run and one short training run, shared by the model and data tests ---

TRAIN_ROWS = 1000  # at most: every 15th row of the taxi sample's 15,002; all of a smaller set
HELD_OUT_ROWS = 60
CONVERGENCE_STEPS = 300

CI_REPORTS = "ci_reports"  # where the blocks of this session go, shared with xdist workers


def pytest_configure(config: pytest.Config) -> None:
    """The controller makes the folder; a worker (pytest-xdist) is handed it, so the blocks its
    tests add still reach the one terminal summary."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        setattr(config, CI_REPORTS, Path(tempfile.mkdtemp(prefix="ci-reports-")))
    else:
        setattr(config, CI_REPORTS, Path(workerinput[CI_REPORTS]))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    node.workerinput[CI_REPORTS] = str(getattr(node.config, CI_REPORTS))


@pytest.fixture(scope="session")
def ci_report(pytestconfig: pytest.Config):
    """Add a titled block to the end of the pytest output (loss curves, skew tables)."""
    folder: Path = getattr(pytestconfig, CI_REPORTS)

    def add(title: str, text: str) -> None:
        block = folder / f"{time.time_ns()}-{os.getpid()}.json"
        block.write_text(json.dumps([title, text]))

    return add


def pytest_terminal_summary(terminalreporter) -> None:
    config = terminalreporter.config
    if getattr(config, "workerinput", None) is not None:
        return
    folder: Path = getattr(config, CI_REPORTS)
    for block in sorted(folder.glob("*.json")):
        title, text = json.loads(block.read_text())
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def raw_rows() -> list:
    from store import rows as R

    return R.read_csv(FULL_DATA, R.load_schema(), serving=False)


@pytest.fixture(scope="session")
def transform_run(raw_rows: list, tmp_path_factory: pytest.TempPathFactory):
    """One tf.Transform run on a sample of every span, read from tests/support/fixture_cache.py
    when nothing it depends on changed (the first xdist worker builds it, the other waits)."""
    from tests.support import tfx_data as S

    # Strides that spread the sample over every span: 15 and 150 on the taxi sample's rows.
    stride = max(1, len(raw_rows) // TRAIN_ROWS)
    train = raw_rows[::stride][:TRAIN_ROWS]
    held_out = raw_rows[7 % len(raw_rows) :: max(1, len(raw_rows) // 100)][:HELD_OUT_ROWS]
    probes = S.probe_rows(train[0], held_out)
    return S.cached_transform("transform", train, probes, tmp_path_factory.mktemp("transform"))


@pytest.fixture(scope="session")
def training_config():
    """The training section every environment inherits from environments/base."""
    return config.load("dev").training


@pytest.fixture(scope="session")
def trained(transform_run, training_config, tmp_path_factory: pytest.TempPathFactory):
    """The real trainer code on the sample: `fit` for a bounded number of steps, then `export`.
    Cached like `transform_run`, its key also holding the training settings."""
    from models.trainer import HyperParameters
    from tests.support import tfx_data as S

    t = training_config
    hp = HyperParameters(
        train_steps=CONVERGENCE_STEPS,
        eval_steps=5,
        batch_size=t.batch_size,
        learning_rate=t.learning_rate,
        seed=t.seed,
        early_stopping_patience=t.early_stopping_patience,
        hidden_units=list(t.hidden_units),
    )
    return S.cached_training(transform_run, hp, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def serve(trained):
    """Predictions of the exported model from serialized tf.Examples."""
    return trained.serving_fn()


# --- The fast loop's definition (tests/support/fast_loop.py), enforced on every test ---


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    fast_loop.enter(item)
    try:
        yield
    finally:
        fast_loop.leave()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A refusal the code under test caught and swallowed still fails the test."""
    outcome = yield
    report = outcome.get_result()
    message = fast_loop.refused.pop(item.nodeid, None)
    if message is not None and report.passed:
        report.outcome = "failed"
        report.longrepr = message
