"""User code by import path: nothing installed at run time, and TFX's cache still sees edits.

The pipeline is compiled with TFX's own compiler against a copy of models/ that each test edits;
a node's compiled parameters are what TFX's cache keys on (with its input artifacts: a node whose
inputs are new outputs of a re-run node re-runs too).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from tfx.dsl.compiler import compiler

import models
from core import config
from core.paths import MODELS_DIR
from pipeline import definition, user_code

USER_MODULES = ("models.features", "models.model", "models.preprocessing", "models.trainer")


@pytest.fixture
def models_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of models/ that `models.*` resolves to for the test (restored afterwards)."""
    copy = tmp_path / "models"
    shutil.copytree(MODELS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(models, "__path__", [str(copy)])
    for module in USER_MODULES:  # else find_spec answers from the already imported module
        monkeypatch.delitem(sys.modules, module, raising=False)
    return copy


def _parameters(cfg) -> dict[str, dict[str, str]]:
    """Each node's compiled execution parameters, as TFX's cache sees them."""
    ir = compiler.Compiler().compile(definition.create_pipeline(cfg))
    found = {}
    for node in ir.nodes:
        pipeline_node = node.pipeline_node
        found[pipeline_node.node_info.id] = {
            key: str(value) for key, value in pipeline_node.parameters.parameters.items()
        }
    return found


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def _changed(before: dict, after: dict) -> set[str]:
    return {node for node in before if before[node] != after[node]}


def test_transform_and_trainer_use_import_paths_not_a_module_file() -> None:
    """A module_file makes TFX build and pip-install a wheel of models/ on every cold run."""
    nodes = _parameters(config.load("dev"))
    for node, key, function in (
        ("Transform", "preprocessing_fn", definition.PREPROCESSING_FN),
        ("Trainer", "run_fn", definition.TRAINER_FN),
    ):
        assert function in nodes[node][key]
        assert "module_file" not in nodes[node] and "module_path" not in nodes[node]
        assert user_code.FINGERPRINT_KEY in nodes[node]["custom_config"]


def test_an_edit_to_preprocessing_fn_re_runs_transform(models_copy: Path) -> None:
    cfg = config.load("dev")
    before = _parameters(cfg)
    _edit(
        models_copy / "preprocessing.py",
        "F.QUANTILE_BUCKET_COUNT\n",
        "F.QUANTILE_BUCKET_COUNT + 1\n",
    )
    # Trainer, Evaluator and Pusher re-run because Transform's outputs are new artifacts.
    assert _changed(before, _parameters(cfg)) == {"Transform"}


def test_an_edit_to_shared_user_code_re_runs_transform_and_trainer(models_copy: Path) -> None:
    cfg = config.load("dev")
    before = _parameters(cfg)
    _edit(models_copy / "features.py", "\n", "\nEXTRA_CONSTANT = 1\n")
    assert _changed(before, _parameters(cfg)) == {"Transform", "Trainer"}


def test_an_edit_to_the_trainer_does_not_re_run_transform(models_copy: Path) -> None:
    cfg = config.load("dev")
    before = _parameters(cfg)
    _edit(models_copy / "model.py", "\n", "\nEXTRA_CONSTANT = 1\n")
    assert _changed(before, _parameters(cfg)) == {"Trainer"}


def test_comments_and_formatting_do_not_invalidate_the_cache(models_copy: Path) -> None:
    cfg = config.load("dev")
    before = _parameters(cfg)
    for name in ("preprocessing.py", "features.py", "trainer.py", "model.py"):
        path = models_copy / name
        path.write_text("# an edited comment\n\n" + path.read_text().replace("\n\n\n", "\n\n\n\n"))
    _edit(models_copy / "preprocessing.py", "    # Missing values", "    # Absent values")
    assert _changed(before, _parameters(cfg)) == set()


def test_a_function_path_without_a_module_is_refused() -> None:
    with pytest.raises(ValueError, match="not a module"):
        user_code.fingerprint("run_fn")
