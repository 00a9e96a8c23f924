"""`mlops promote`, `rollback`, `status` and `render` as a person or a workflow calls them."""

from __future__ import annotations

import pytest

from mlops import cli
from tests.support.stores import Repo


def run(repo: Repo, *args: str) -> int:
    return cli.main(["--environments", str(repo.environments), *args])


def test_the_whole_path_to_prod_and_back(repo: Repo, capsys: pytest.CaptureFixture) -> None:
    first = repo.push()
    assert run(repo, "promote", "--to", "dev") == 0
    assert "commit them together" in capsys.readouterr().out
    repo.pass_loadtest("dev")
    assert run(repo, "promote", "--from", "dev", "--to", "staging") == 0
    repo.pass_loadtest("staging")
    assert run(repo, "promote", "--from", "staging", "--to", "prod") == 0
    second = repo.push()
    assert run(repo, "promote", "--to", "dev") == 0
    capsys.readouterr()

    assert run(repo, "status") == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:4]}
    assert rows["dev"][1] == str(second) and rows["prod"][1] == str(first)
    assert rows["staging"][5] == "PASS" and rows["dev"][5] == "NONE"
    assert f"pending: version {second}" in out and "waits for a passing load test in dev" in out

    repo.pass_loadtest("dev")
    assert run(repo, "promote", "--from", "dev", "--to", "staging") == 0
    repo.pass_loadtest("staging")
    assert run(repo, "promote", "--from", "staging", "--to", "prod") == 0
    assert run(repo, "rollback", "--env", "prod") == 0
    assert f"Rolled prod back to version {first}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("promote", "--to", "prod"), 1, "refused (stage-order): prod takes releases from staging"),
        (("promote", "--from", "dev", "--to", "prod"), 1, "refused (stage-order)"),
        (("promote", "--to", "qa"), 2, "--to: unknown environment 'qa'"),
        (
            ("rollback", "--env", "staging"),
            1,
            "refused (previous-release): staging has no previous",
        ),
    ],
)
def test_refusals_are_one_line_with_the_rule(repo: Repo, capsys, args, code, message) -> None:
    assert run(repo, *args) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_loadtest_verdict_needs_a_release(repo: Repo) -> None:
    from delivery.promotion import PromotionRefused

    with pytest.raises(PromotionRefused, match="dev has no release to attach a load test to"):
        repo.pass_loadtest("dev")


def test_prod_promotion_refuses_a_version_other_than_the_approved_one(repo: Repo, capsys) -> None:
    version = repo.push()
    assert run(repo, "promote", "--to", "dev") == 0
    repo.pass_loadtest("dev")
    assert run(repo, "promote", "--from", "dev", "--to", "staging") == 0
    repo.pass_loadtest("staging")
    capsys.readouterr()
    assert (
        run(
            repo,
            "promote",
            "--from",
            "staging",
            "--to",
            "prod",
            "--expect-version",
            str(version + 1),
        )
        == 1
    )
    assert (
        f"refused (expected-version): staging's release is version {version}, not the "
        f"approved version {version + 1}"
    ) in capsys.readouterr().err
    assert (
        run(repo, "promote", "--from", "staging", "--to", "prod", "--expect-version", str(version))
        == 0
    )


def test_messages_name_the_files_of_the_copy_in_use(repo: Repo, capsys) -> None:
    """With --environments DIR, what changed is shown in DIR, not in the default checkout."""
    repo.push()
    assert run(repo, "promote", "--to", "dev") == 0
    out, err = capsys.readouterr()
    dev = repo.environments / "dev"
    assert f"Changed: {dev / 'release.yaml'} and {dev / 'manifests'}/; commit them" in out
    assert f"repository root {repo.environments.parent}" in err
