"""models/features.py as `mlops init` writes it: the plan's task, label rule and roles, in the
taxi module's shape, valid Python that ruff leaves as it is."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.paths import REPO_ROOT
from models import features as taxi
from scaffold import features_module, plan
from tests.scaffold.test_decisions import dataset
from tests.support import project

REPO = Path(__file__).resolve().parents[2]


def _module(tmp_path: Path, request: plan.Request) -> tuple[str, dict]:
    text = features_module.features_py(plan.decide(request))
    namespace: dict = {}
    exec(compile(text, "features.py", "exec"), namespace)
    return text, namespace


def test_multiclass_writes_the_classes_in_id_order_and_every_role(tmp_path) -> None:
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice(["x", "x", "y", "z"]))
    _, f = _module(tmp_path, plan.Request(data=path, label="y"))
    assert f["TASK"] == "multiclass" and f["LABEL_KEY"] == f["LABEL_COLUMN"] == "y"
    assert f["CLASSES"][0] == "x" and set(f["CLASSES"]) == {"x", "y", "z"}
    assert f["POSITIVE_CLASS"] is None and f["LABEL_SOURCE_KEYS"] == ("y",)
    assert f["ZSCORE_KEYS"] == ("size",)
    assert f["VOCABULARY_KEYS"] == ("colour",)
    assert f["INTEGER_CATEGORICAL_SIZES"] == {"rooms": 7}
    assert f["CYCLICAL_PARTS"] == {"day": ("weekday", "month")}
    assert f["model_feature_keys"]() == ("size", "rooms", "colour", "day")
    assert f["class_count"]() == 3
    assert set(f["all_raw_keys"]()) == {"day", "size", "colour", "rooms", "y"}


def test_binary_strings_write_the_positive_class(tmp_path) -> None:
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice(["yes", "no", "no"]))
    _, f = _module(tmp_path, plan.Request(data=path, label="y", positive="yes"))
    assert (f["TASK"], f["POSITIVE_CLASS"], f["LABEL_THRESHOLD"]) == ("binary", "yes", None)


def test_regression_writes_the_raw_label(tmp_path) -> None:
    path = dataset(tmp_path / "d.csv", label=lambda i, r: f"{r.gauss(50, 9):.2f}")
    _, f = _module(tmp_path, plan.Request(data=path, label="y"))
    assert (f["TASK"], f["CLASSES"], f["class_count"]()) == ("regression", (), 1)


def test_the_written_module_passes_the_projects_lint_and_format(tmp_path) -> None:
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice(["x", "y", "z"]))
    text, _ = _module(tmp_path, plan.Request(data=path, label="y"))
    target = tmp_path / "models" / "features.py"
    target.parent.mkdir()
    target.write_text(text)
    ruff = str(Path(sys.executable).parent / "ruff")
    config = ("--config", str(REPO / "pyproject.toml"))
    for args in (("check", *config), ("format", "--check", *config)):
        done = subprocess.run([ruff, *args, str(target)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_shared_helpers_are_the_taxi_modules_own_text(tmp_path) -> None:
    """The rendered module ends with the taxi module's helpers, read from it: one copy."""
    path = dataset(tmp_path / "d.csv", label=lambda i, r: r.choice(["x", "y", "z"]))
    text, _ = _module(tmp_path, plan.Request(data=path, label="y"))
    taxi_text = Path(taxi.__file__).read_text()
    helpers = taxi_text[taxi_text.index(features_module.SHARED_START) :]
    assert helpers.count("\ndef ") >= 6 and text.endswith("\n\n" + helpers)


def test_a_feature_module_without_the_shared_start_is_named(tmp_path) -> None:
    edited = tmp_path / "features.py"
    edited.write_text(Path(taxi.__file__).read_text().replace(features_module.SHARED_START, "#"))
    with pytest.raises(ConfigError, match=rf"{edited}: no line .*Fill-ins.*git checkout"):
        features_module.shared_helpers(edited)


@pytest.mark.parametrize("name", ["model_feature_keys", "dense_feature_keys", "class_count"])
def test_taxi_module_keeps_its_shape(name) -> None:
    """The committed module has the helpers every generated one shares, and the task it says:
    the taxi sample's tip rule, or after `mlops init` the task and label of models/task.yaml."""
    assert callable(getattr(taxi, name))
    if project.IS_TAXI_SAMPLE:
        assert (
            taxi.TASK == "binary"
            and taxi.LABEL_THRESHOLD == 0.2
            and taxi.LABEL_THRESHOLD_OF == "fare"
        )
    else:
        drafted = yaml.safe_load((REPO_ROOT / "models" / "task.yaml").read_text())
        assert (drafted["task"], drafted["label"]) == (taxi.TASK, taxi.LABEL_COLUMN)
