"""Shared fixtures. Importing `mlops` first sets TF_USE_LEGACY_KERAS before TensorFlow loads."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest
import yaml

import mlops  # noqa: F401
from mlops import config

REPO = config.REPO_ROOT
BUNDLED_SPANS = sorted((REPO / "data" / "taxi").glob("span-*/data.csv"),
                       key=lambda p: int(p.parent.name.split("-", 1)[1]))


def _all_bundled_rows() -> Path:
    """Every bundled span in one CSV (span 1 first), so tests see all 15,002 trips as before
    the sample was split by time into spans."""
    target = REPO / "build" / "test-data" / "taxi-all-spans.csv"
    texts = [p.read_text().splitlines(keepends=True) for p in BUNDLED_SPANS]
    content = texts[0][0] + "".join("".join(t[1:]) for t in texts)
    if not target.exists() or target.read_text() != content:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(content)
        tmp.replace(target)
    return target


FULL_DATA = _all_bundled_rows()


def copy_environments(root: Path) -> Path:
    """A writable copy of environments/ (base and every overlay, no releases) under `root`."""
    target = root / "environments"
    shutil.copytree(config.ENVIRONMENTS_DIR, target,
                    ignore=shutil.ignore_patterns("manifests", "release.yaml"))
    return target


def update_overlay(environments: Path, env: str, updates: dict) -> None:
    """Deep-merge `updates` into environments/<env>/config.yaml, as a person would edit it."""
    path = environments / env / "config.yaml"
    data = yaml.safe_load(path.read_text()) or {}

    def merge(into: dict, new: dict) -> None:
        for key, value in new.items():
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                merge(into[key], value)
            else:
                into[key] = value

    merge(data, updates)
    path.write_text(yaml.safe_dump(data))


# Hermetic: the overlays pick dev's registry store on GitHub Actions (GITHUB_ACTIONS=true) and
# read GITHUB_REPOSITORY / MODEL_REGISTRY; tests that want those set them themselves.
for _name in ("GITHUB_ACTIONS", "GITHUB_REPOSITORY", "MODEL_REGISTRY", "GITHUB_TOKEN",
              "MODEL_REGISTRY_USERNAME", "MODEL_REGISTRY_PASSWORD", "MLOPS_SOURCE_COMMIT",
              "GITHUB_SHA", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory):
    """A real OCI registry (CNCF Distribution) on loopback, for the whole session."""
    from delivery.local_registry import Registry

    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


def strict_json(path: Path):
    """Parse a file as strict JSON: bare NaN/Infinity (Python's default output) are errors."""
    import json

    def refuse(constant: str):
        raise ValueError(f"{path}: {constant} is not JSON")

    return json.loads(Path(path).read_text(), parse_constant=refuse)


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    return copy_environments(tmp_path)


def write_sample(dest: Path, rows: int, every: int = 5) -> Path:
    """Every `every`-th row of the bundled data, as span 1 under `dest`."""
    with FULL_DATA.open() as f:
        reader = csv.reader(f)
        header = next(reader)
        kept = [row for i, row in enumerate(reader) if i % every == 0][:rows]
    path = dest / "span-1" / "data.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(kept)
    return dest


# --- One real tf.Transform run and one short training run, shared by the model and data tests ---

TRAIN_ROWS = 1000  # every 15th row of the bundled data
HELD_OUT_ROWS = 60
CONVERGENCE_STEPS = 300

_CI_REPORTS: list[tuple[str, str]] = []


@pytest.fixture(scope="session")
def ci_report():
    """Add a titled block to the end of the pytest output (loss curves, skew tables)."""
    return lambda title, text: _CI_REPORTS.append((title, text))


def pytest_terminal_summary(terminalreporter) -> None:
    for title, text in _CI_REPORTS:
        terminalreporter.write_sep("-", title)
        terminalreporter.write_line(text)


@pytest.fixture(scope="session")
def raw_rows() -> list:
    from components import rows as R

    return R.read_csv(FULL_DATA, R.load_schema(), serving=False)


@pytest.fixture(scope="session")
def transform_run(raw_rows: list, tmp_path_factory: pytest.TempPathFactory):
    from tests import support as S

    train = raw_rows[::15][:TRAIN_ROWS]
    held_out = raw_rows[7::150][:HELD_OUT_ROWS]
    return S.run_transform(train, S.probe_rows(train[0], held_out),
                           tmp_path_factory.mktemp("transform"))


@pytest.fixture(scope="session")
def training_config():
    """The training section every environment inherits from environments/base."""
    return config.load("dev").training


@pytest.fixture(scope="session")
def trained(transform_run, training_config, tmp_path_factory: pytest.TempPathFactory):
    """The real trainer code on the sample: `fit` for a bounded number of steps, then `export`."""
    import tensorflow as tf

    from components.model import build_model
    from components.trainer import HyperParameters, export, fit
    from tests import support as S

    t = training_config
    hp = HyperParameters(train_steps=CONVERGENCE_STEPS, eval_steps=5, batch_size=t.batch_size,
                         learning_rate=t.learning_rate, seed=t.seed,
                         early_stopping_patience=t.early_stopping_patience,
                         hidden_units=list(t.hidden_units))
    tf.keras.utils.set_random_seed(hp.seed)
    model = build_model(hp.hidden_units, hp.learning_rate, hp.seed)
    sample = S.dataset(transform_run.train, hp.batch_size)
    steps = -(-TRAIN_ROWS // hp.batch_size)
    initial_loss = model.evaluate(sample, steps=steps, verbose=0)[0]
    history = fit(model, sample, sample, hp)
    final_loss = model.evaluate(sample, steps=steps, verbose=0)[0]
    export_dir = tmp_path_factory.mktemp("model") / "serving_model"
    export(model, transform_run.output, str(export_dir))
    return S.Trained(model, hp, history, initial_loss, final_loss, export_dir)


@pytest.fixture(scope="session")
def serve(trained):
    """Predictions of the exported model from serialized tf.Examples."""
    return trained.serving_fn()
