"""What the `mlops` command answers to wrong input: one line naming the option, file or key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from core import config
from core.paths import REPO_ROOT
from mlops import cli
from models import features as F
from tests.support import project
from tests.support.repo import update_overlay

# A feature a slice may name (the taxi sample's trip_start_hour), and a misspelt one
# (its payment_type without the last letter).
SLICE = F.HOUR_KEY or F.VOCABULARY_KEYS[-1]
MISSPELT = F.VOCABULARY_KEYS[0][:-1]


def run(environments: Path, *args: str) -> int:
    return cli.main(["--environments", str(environments), *args])


def files_under(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- exit codes (the table and one real command per row: tests/code/test_exit_status.py) ------


def test_argparse_usage_errors_exit_2(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["serve", "--env", "dev", "--version", "latest"])
    assert exc.value.code == 2
    assert "--version: invalid int value: 'latest'" in capsys.readouterr().err


# --- environment names --------------------------------------------------------------------------

# Every command that takes an environment, with the arguments it needs besides it.
ENV_COMMANDS = [
    ("run", "--env"),
    ("compile", "--env"),
    ("submit", "--env"),
    ("schema", "draft", "--env"),
    ("serve", "--env"),
    ("predict", "--rows", "rows.csv", "--env"),
    ("loadtest", "--env"),
    ("analyze", "--prometheus", "http://127.0.0.1:9", "--env"),
    ("rollback", "--env"),
    ("config", "--env"),
    ("render", "--env"),
    ("promote", "--to"),
    ("promote", "--to", "staging", "--from"),
]


@pytest.mark.parametrize("command", ENV_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("name", ["production", "../dev", "dev/", "DEV", ""])
def test_every_environment_argument_is_checked(
    environments: Path, capsys, command: tuple, name: str
) -> None:
    before = files_under(environments.parent)
    assert run(environments, *command, name) == 2
    err = capsys.readouterr().err
    flag = command[-1]
    assert f"{flag}: unknown environment {name!r} (known: dev, prod, staging, in " in err
    assert "Traceback" not in err
    assert files_under(environments.parent) == before


def test_rollback_of_production_names_the_known_environments(capsys) -> None:
    """`production` is the GitHub environment's name, an easy slip for `prod`."""
    assert cli.main(["rollback", "--env", "production"]) == 2
    err = capsys.readouterr().err
    assert "--env: unknown environment 'production' (known: dev, prod, staging" in err
    assert "previous release" not in err


# --- mlops config ---------------------------------------------------------------------------------


def test_config_prints_only_yaml_on_stdout(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["config", "--env", "staging"]) == 0
    out, err = capsys.readouterr()
    merged = yaml.safe_load(out)
    assert merged["name"] == "staging" and merged["deploy"]["promote_from"] == "dev"
    for env in ("dev", "staging", "prod"):
        assert f"{env}: ok (" in err


# --- the promotion graph and slices, checked when the config loads -------------------------------


@pytest.mark.parametrize(
    ("updates", "file", "message"),
    [
        (
            {"staging": {"deploy": {"promote_from": "qa"}}},
            "staging",
            "deploy.promote_from: unknown environment 'qa' for staging (known: dev, prod, staging",
        ),
        (
            {"staging": {"deploy": {"promote_from": "prod"}}},
            "prod",
            "deploy.promote_from: releases would go round in a loop (prod <- staging <- prod",
        ),
        (
            {"staging": {"deploy": {"promote_from": ""}}},
            "staging",
            "deploy.promote_from: 'dev' and 'staging' both take the pipeline's output",
        ),
        (
            {"dev": {"evaluation": {"slices": [SLICE, MISSPELT]}}},
            "dev",
            f"evaluation.slices[1]: {MISSPELT!r} is not a feature of the schema",
        ),
    ],
)
@pytest.mark.parametrize(
    "command",
    [("config",), ("render", "--check"), ("status",), ("run", "--env", "dev")],
    ids=" ".join,
)
def test_release_order_and_slices_are_validated_with_the_config(
    environments: Path, capsys, updates: dict, file: str, message: str, command: tuple
) -> None:
    for env, update in updates.items():
        update_overlay(environments, env, update)
    before = files_under(environments.parent)
    assert run(environments, *command) == 2
    err = capsys.readouterr().err
    assert f"{config.show_path(environments / file / 'config.yaml')}: {message}" in err
    assert "Traceback" not in err
    assert files_under(environments.parent) == before


# --- the repository root ------------------------------------------------------------------------


def test_root_option_reads_that_trees_environments(environments: Path, capsys) -> None:
    assert cli.main(["--root", str(environments.parent), "config", "--env", "dev"]) == 0
    out, err = capsys.readouterr()
    # data.root as environments/base names it (data/taxi until `mlops init`), under that tree
    root = project.DATA_ROOT.relative_to(REPO_ROOT)
    assert yaml.safe_load(out)["data"]["root"] == str(environments.parent / root)
    assert f"repository root {environments.parent}" in err


def test_environments_outside_the_root_are_refused(environments: Path, capsys) -> None:
    assert cli.main(["--root", str(REPO_ROOT), "--environments", str(environments), "config"]) == 2
    err = capsys.readouterr().err
    assert f"--environments {environments}: must be the environments/ folder of --root" in err
    assert cli.main(["--environments", str(environments / "nowhere"), "status"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_a_copy_states_its_root_in_messages(environments: Path, capsys) -> None:
    """The root a copy resolves against is shown, not the checkout's default paths."""
    assert run(environments, "render") == 0
    out, err = capsys.readouterr()
    assert f"repository root {environments.parent}" in err
    assert "argocd" in out and str(environments.parent) in out


def test_render_check_says_missing_and_stale_differently(environments: Path, capsys) -> None:
    assert run(environments, "render") == 0
    capsys.readouterr()
    (environments / "dev" / "manifests" / "README.md").unlink()
    argocd = environments / "staging" / "argocd" / "README.md"  # no repository URL here
    argocd.write_text(argocd.read_text() + "# edited by hand\n")
    (environments / "prod" / "manifests" / "extra.yaml").write_text("kind: Secret\n")
    assert run(environments, "render", "--check") == 1
    err = capsys.readouterr().err
    assert "dev/manifests/README.md (missing: not committed" in err
    assert "staging/argocd/README.md (stale: its content differs" in err
    assert "prod/manifests/extra.yaml (unexpected: not rendered by mlops" in err


# --- help text ----------------------------------------------------------------------------------


def test_version_and_help_texts(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert re.match(
        r"mlops \d+\.\d+\.\d+ \(tfx 1\.16\.\d+, tensorflow 2\.\d+", capsys.readouterr().out
    )
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    assert isinstance(sub, dict)  # command name -> its parser
    assert "release order" in sub["status"].description
    predict = {a.dest: a for a in sub["predict"]._actions}
    assert "schema requires" in predict["rows"].help
    assert "gRPC PredictionService" in predict["protocol"].help
    _every_command_and_option_is_described(parser, "mlops")


def _every_command_and_option_is_described(parser, name: str) -> None:
    import argparse

    assert parser.description, f"`{name}` has no description"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub_parser in action.choices.items():
                _every_command_and_option_is_described(sub_parser, f"{name} {sub_name}")
        else:
            assert action.help, f"`{name} {'/'.join(action.option_strings)}` has no help"
