"""`mlops init` renames and re-gates environments/*/config.yaml in place: the values it decided
change, every comment and other key stays, and the result still loads as config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core import config, schema
from core.errors import ConfigError
from scaffold import config_edit
from tests.scaffold.test_decisions import dataset
from tests.scaffold.test_init_command import git, init

REPO = Path(__file__).resolve().parents[2]


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


def test_a_binary_init_renames_and_gates_the_environments(
    tmp_path,
    checkout,
    capsys,
    monkeypatch,
):
    shutil.rmtree(checkout / "environments")
    shutil.copytree(REPO / "environments", checkout / "environments")
    shutil.copytree(REPO / "models" / "schema", checkout / "models" / "schema")
    git(checkout, "add", "-A")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "envs")
    before = (checkout / "environments/base/config.yaml").read_text()
    path = dataset(tmp_path / "churn.csv", label=lambda i, r: r.choice(["yes", "no"]))
    assert init(checkout, "--data", str(path), "--label", "y", "--positive", "yes") == 0
    out = capsys.readouterr().out
    assert "Not gated yet" not in out
    after = (checkout / "environments/base/config.yaml").read_text()
    assert comments(after) == comments(before)
    # Config checks the slices against the curated schema: the one init drafted here.
    drafted = checkout / "models" / "schema" / "schema.pbtxt"
    monkeypatch.setattr(schema, "SCHEMA_FILE", drafted)
    cfg = config.load("dev", checkout / "environments")
    assert cfg.model_name == "churn"
    assert cfg.pipeline_name == "churn-dev"
    assert cfg.data.root.endswith("data/churn")
    assert cfg.evaluation.metric == "auc"
    assert f"auc (higher is better): at least {cfg.evaluation.lower_bound}" in out
    assert cfg.evaluation.lower_bound != 0.80  # the taxi template's bound, replaced
    assert cfg.continuous_training.decay_bound("auc") < cfg.evaluation.bound
    prod = config.load("prod", checkout / "environments")
    assert prod.deploy.namespace == "churn-prod"
    assert prod.paths.pipeline_root == "gs://YOUR_BUCKET/churn/prod/pipeline"
    # Buckets, beam temp folders and the registry namespace follow the name; only comments,
    # which are examples, still say taxi.
    for file in sorted((checkout / "environments").rglob("*.yaml")):
        if "manifests" in file.parts or "argocd" in file.parts or file.name == "release.yaml":
            continue
        values = [
            line for line in file.read_text().splitlines() if not line.lstrip().startswith("#")
        ]
        assert not [line for line in values if "taxi" in line], file
    # The way back the README and init print: git restores the taxi sample exactly.
    restore = out[out.index("Back to the taxi sample: `") + 26 :].split("`")[0]
    subprocess.run(restore, shell=True, cwd=checkout, check=True, capture_output=True)
    assert git(checkout, "status", "--porcelain", "--untracked-files=all") == ""
    assert init(checkout, "--data", str(path), "--label", "y", "--positive", "yes") == 0
    capsys.readouterr()
    git(checkout, "add", "-A")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert init(checkout, "--data", str(path), "--label", "y", "--positive", "yes") == 0
    assert "Nothing changed." in capsys.readouterr().out
    assert git(checkout, "status", "--porcelain") == ""


def test_a_key_not_where_the_template_has_it_is_named():
    text = "evaluation:\n  metric: auc  # gated\ntraining:\n  seed: 1\n"
    assert config_edit.set_value(text, "c.yaml", "evaluation.metric", "recall") == (
        "evaluation:\n  metric: recall  # gated\ntraining:\n  seed: 1\n"
    )
    with pytest.raises(ConfigError, match=r"c.yaml: no key evaluation.seed to set to 3"):
        config_edit.set_value(text, "c.yaml", "evaluation.seed", 3)
    with pytest.raises(ConfigError, match=r"c.yaml: no section 'serving'"):
        config_edit.set_value(text, "c.yaml", "serving.rest_port", 1)
