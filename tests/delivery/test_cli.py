"""`mlops promote`, `rollback`, `status` and `render` as a person or a workflow calls them."""

from __future__ import annotations

from pathlib import Path

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
    repo.pass_analysis("staging")
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
    repo.pass_analysis("staging")
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
    repo.pass_analysis("staging")
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


# --- serving checks the tree digest first, whatever the store ------------------------------------


def _served_anything(repo: Repo) -> bool:
    return any(repo.root.rglob("models.config")) or any(repo.root.rglob("server.json"))


@pytest.mark.parametrize("how", [("--detach",), ("--version", "{version}", "--detach")])
def test_serving_a_tampered_version_from_a_folder_store_is_refused(
    repo: Repo, capsys, how: tuple[str, ...]
) -> None:
    """A byte of saved_model.pb changed after the release: refused before any server starts."""
    version = repo.push()
    assert run(repo, "promote", "--to", "dev") == 0
    pb = repo.store("dev") / str(version) / "saved_model.pb"
    pb.write_bytes(pb.read_bytes() + b"!")
    capsys.readouterr()
    args = [a.format(version=version) for a in how]
    assert run(repo, "serve", "--env", "dev", "--backend", "local", *args) == 1
    err = capsys.readouterr().err
    record = repo.environments / "dev" / "release.yaml"
    assert (
        f"mlops serve: stopped: refused (digest-matches): version {version} in "
        f"{repo.store('dev')} has digest sha256:"
    ) in err
    assert f"but {record} records {repo.current('dev').digest}" in err
    assert not _served_anything(repo)


def test_every_store_kind_is_held_to_the_recorded_digest(any_repo: Repo, capsys) -> None:
    """The record and the store disagree (folder or registry): `serve` refuses by the rule."""
    version = any_repo.push()
    assert run(any_repo, "promote", "--to", "dev") == 0
    record = any_repo.environments / "dev" / "release.yaml"
    record.write_text(record.read_text().replace("digest: sha256:", "digest: sha256:0"))
    capsys.readouterr()
    code = run(any_repo, "serve", "--env", "dev", "--backend", "local", "--version", str(version))
    assert code == 1
    err = capsys.readouterr().err
    assert f"refused (digest-matches): version {version} in " in err
    assert "changed after it was pushed" in err
    assert not _served_anything(any_repo)


def test_a_pushed_version_is_held_to_its_run_summary(repo: Repo, capsys) -> None:
    """No release names the version yet, but the run that pushed it recorded its digest."""
    import json

    version = repo.push()
    cfg = repo.delivery.cfg("dev")
    summary = repo.root / "out" / "dev" / "run_summary.json"
    assert summary.parent == Path(cfg.paths.pipeline_root).parent
    summary.parent.mkdir(parents=True)
    summary.write_text(
        json.dumps({"pushed": True, "pushed_version": str(version), "model_digest": "sha256:00"})
    )
    assert run(repo, "serve", "--env", "dev", "--backend", "local", "--detach") == 1
    err = capsys.readouterr().err
    assert f"refused (digest-matches): version {version} in " in err
    assert f"but {summary} records sha256:00" in err
    assert not _served_anything(repo)
