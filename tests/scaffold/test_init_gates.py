"""`mlops init` gates a regression (rmse under a ceiling) and a multiclass task (accuracy over a
floor) in every layer, keeps the layers' relative strictness, re-renders the manifests itself,
and a second init changes nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from core import config, schema
from mlops import cli
from tests.scaffold.test_decisions import dataset
from tests.scaffold.test_init_command import git, init

REPO = Path(__file__).resolve().parents[2]
URL = "https://github.com/example/rooms"


@pytest.fixture
def project(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The template's environments, with a repository URL so Argo CD Applications render, and
    their manifests committed; config checks slices against the checkout's curated schema."""
    shutil.rmtree(checkout / "environments")
    shutil.copytree(REPO / "environments", checkout / "environments")
    shutil.copytree(REPO / "models" / "schema", checkout / "models" / "schema")
    base = checkout / "environments" / "base" / "config.yaml"
    base.write_text(base.read_text().replace('  repo_url: ""', f"  repo_url: {URL}"))
    drafted = checkout / "models" / "schema" / "schema.pbtxt"
    monkeypatch.setattr(schema, "SCHEMA_FILE", drafted)
    assert cli.main(["--root", str(checkout), "render"]) == 0
    git(checkout, "add", "-A")
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "template")
    return checkout


def _yaml(root: Path, path: str) -> dict:
    return yaml.safe_load((root / path).read_text())


def _commit(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")


def test_a_regression_init_gates_rmse_under_ceilings_in_every_layer(tmp_path, project, capsys):
    path = dataset(tmp_path / "rooms.csv", label=lambda i, r: f"{r.gauss(50, 9):.2f}")
    args = ("--data", str(path), "--label", "y")
    assert init(project, *args) == 0
    out = capsys.readouterr().out
    assert "Not gated yet" not in out
    base, cloud = (
        _yaml(project, "environments/base/config.yaml"),
        _yaml(project, "environments/cloud.yaml"),
    )
    ceiling = base["evaluation"]["upper_bound"]
    assert base["evaluation"]["metric"] == "rmse" and "lower_bound" not in base["evaluation"]
    assert "lower_bound" not in cloud["evaluation"]
    assert cloud["loadtest"]["rows_file"] == "data/rooms/loadtest_rows.csv"  # not the taxi rows
    # The cloud layer is stricter: a lower ceiling. ct retrains only past a looser ceiling.
    assert cloud["evaluation"]["upper_bound"] < ceiling
    assert base["continuous_training"]["decay_ceiling"] > ceiling
    assert "decay_floor" not in base["continuous_training"]
    assert "decay_floor" not in cloud["continuous_training"]
    # max_regression in rmse units (a share of the mean's rmse, ~9), prod twice as strict.
    regression = base["evaluation"]["max_regression"]
    assert 0.01 < regression < 1.0
    prod = _yaml(project, "environments/prod/config.yaml")["evaluation"]["max_regression"]
    assert prod == pytest.approx(regression / 2, abs=1e-4)
    assert f"Gates: rmse <= {ceiling} (evaluation.upper_bound;" in out
    # The review list names each layer's gate in the file that holds it.
    assert f"    - staging and prod: rmse at most {cloud['evaluation']['upper_bound']}" in out
    assert f"    - evaluation.max_regression {prod}" in out
    for env in ("dev", "staging", "prod"):
        cfg = config.load(env, project / "environments")
        assert cfg.evaluation.bound == (
            ceiling if env == "dev" else cloud["evaluation"]["upper_bound"]
        )
        assert cfg.continuous_training.decay_bound("rmse") > cfg.evaluation.bound
    # The manifests follow the renamed config without a separate `mlops render`.
    assert "Manifests rendered for dev, prod, staging: changed " in out
    app = (project / "environments/dev/argocd/application.yaml").read_text()
    assert "namespace: rooms-dev" in app
    assert cli.main(["--root", str(project), "render", "--check"]) == 0
    # The way back init prints, and the README's Make it yours gives, restores the taxi sample
    # with its manifests.
    restore = out[out.index("Back to the taxi sample: `") + 26 :].split("`")[0]
    readme = (REPO / "README.md").read_text()
    yours = readme[readme.index("## Make it yours") : readme.index("## What `make demo` does")]
    assert restore in yours.replace("\n", " ") and "mlops init --data" in yours
    subprocess.run(restore, shell=True, cwd=project, check=True, capture_output=True)
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    assert init(project, *args) == 0
    capsys.readouterr()
    _commit(project)
    assert init(project, *args) == 0
    second = capsys.readouterr().out
    assert "Nothing changed." in second
    assert "Manifests rendered for dev, prod, staging: up to date." in second
    assert git(project, "status", "--porcelain") == ""


def test_a_multiclass_init_gates_accuracy_over_floors(tmp_path, project, capsys):
    path = dataset(tmp_path / "hue.csv", label=lambda i, r: r.choice("xyz"))
    assert init(project, "--data", str(path), "--label", "y") == 0
    out = capsys.readouterr().out
    base, cloud = (
        _yaml(project, "environments/base/config.yaml"),
        _yaml(project, "environments/cloud.yaml"),
    )
    floor = base["evaluation"]["lower_bound"]
    assert base["evaluation"]["metric"] == "accuracy" and 0.3 < floor < 0.6
    assert floor < cloud["evaluation"]["lower_bound"] < 1
    assert base["continuous_training"]["decay_floor"] == round(floor - 0.02, 4)
    assert base["evaluation"]["max_regression"] == 0.01  # a fraction: the template's figure
    assert f"Gates: accuracy >= {floor} (evaluation.lower_bound;" in out
    assert config.load("staging", project / "environments").evaluation.metric == "accuracy"
    _commit(project)
    assert init(project, "--data", str(path), "--label", "y") == 0
    assert "Nothing changed." in capsys.readouterr().out
    assert git(project, "status", "--porcelain") == ""


def test_a_config_that_does_not_load_says_why_the_manifests_were_not_rendered(
    tmp_path, project, capsys
):
    """A config error init does not touch stops the render: init names it and the command to
    run after the fix, instead of leaving stale manifests unmentioned."""
    dev = project / "environments" / "dev" / "config.yaml"
    dev.write_text(dev.read_text().replace("  run_seconds: 15\n", "  slo:\n    p99_ms: 1\n"))
    _commit(project)
    path = dataset(tmp_path / "hue.csv", label=lambda i, r: r.choice("xyz"))
    assert init(project, "--data", str(path), "--label", "y") == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("Manifests")]
    assert line.startswith("Manifests not re-rendered: ") and "loadtest.slo.p99_ms" in line
    assert line.endswith("Fix that, then run `mlops render`.")


def test_a_classification_init_after_a_regression_one_swaps_the_ceilings_back(
    tmp_path, project, capsys
):
    """init on a project that init made a regression: upper_bound and decay_ceiling become a
    floor again on the same lines, and the config loads."""
    rooms = dataset(tmp_path / "rooms.csv", label=lambda i, r: f"{r.gauss(50, 9):.2f}")
    assert init(project, "--data", str(rooms), "--label", "y") == 0
    _commit(project)
    hue = dataset(tmp_path / "hue.csv", label=lambda i, r: r.choice("xyz"))
    assert init(project, "--data", str(hue), "--label", "y", "--force") == 0
    capsys.readouterr()
    for path in ("environments/base/config.yaml", "environments/cloud.yaml"):
        data = _yaml(project, path)
        assert "upper_bound" not in data["evaluation"] and "lower_bound" in data["evaluation"]
        ct = data["continuous_training"]
        assert "decay_ceiling" not in ct and "decay_floor" in ct
    assert config.load("prod", project / "environments").evaluation.metric == "accuracy"
