"""The Argo CD Application reads this repository: from deploy.repo_url or the Git remote, never
a placeholder; without either, nothing is rendered for Argo CD and the message says what to set."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from core.errors import ConfigError
from core.paths import ENVIRONMENTS_DIR
from delivery import argocd, manifests, repo_url
from mlops import cli
from tests.support.repo import update_overlay

ENVS = ["dev", "staging", "prod"]


def _git_origin(root: Path, url: str) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", url], check=True)


def _rendered(environments: Path) -> dict[Path, str]:
    folders = ("manifests", "argocd")
    return {
        p: p.read_text() for e in ENVS for f in folders for p in (environments / e / f).glob("*")
    }


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("https://github.com/acme/taxi", "https://github.com/acme/taxi.git"),
        (
            "https://x-access-token:ghs_secret@github.com/acme/taxi.git",
            "https://github.com/acme/taxi.git",
        ),
        ("git@github.com:acme/taxi.git", "https://github.com/acme/taxi.git"),
        (
            "ssh://git@git.example.com:2222/team/ml/taxi.git/",
            "https://git.example.com/team/ml/taxi.git",
        ),
        ("http://gitea.local/acme/taxi", "https://gitea.local/acme/taxi.git"),
        ("/srv/git/taxi.git", None),
        ("file:///srv/git/taxi.git", None),
        ("https://github.com/acme", None),
        ("C:/repos/taxi", None),
    ],
)
def test_a_remote_is_normalised_to_https_without_credentials(remote: str, url: str | None) -> None:
    assert repo_url.normalise(remote) == url


def test_the_application_reads_the_git_remote_origin(tmp_path: Path, environments: Path) -> None:
    _git_origin(tmp_path, "git@github.com:acme/taxi-tips.git")
    manifests.render(environments, ENVS, check=False)
    for env in ENVS:
        app = yaml.safe_load(manifests.argocd_path(environments, env).read_text())
        assert app["spec"]["source"]["repoURL"] == "https://github.com/acme/taxi-tips.git"
        assert not (environments / env / "argocd" / "README.md").exists()
    assert not [p for p, text in _rendered(environments).items() if "YOUR_ORG" in text]
    assert manifests.render(environments, ENVS, check=True) == []


def test_deploy_repo_url_wins_over_the_remote(tmp_path: Path, environments: Path) -> None:
    _git_origin(tmp_path, "git@github.com:acme/taxi-tips.git")
    update_overlay(environments, "prod", {"deploy": {"repo_url": "https://ghe.acme.io/ml/taxi"}})
    manifests.render(environments, ENVS, check=False)
    app = yaml.safe_load(manifests.argocd_path(environments, "prod").read_text())
    assert app["spec"]["source"]["repoURL"] == "https://ghe.acme.io/ml/taxi.git"


@pytest.mark.parametrize(
    "value", ["https://github.com/YOUR_ORG/YOUR_REPO.git", "git@github.com:acme/taxi.git"]
)
def test_a_placeholder_or_non_https_repo_url_is_refused(
    environments: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    update_overlay(environments, "staging", {"deploy": {"repo_url": value}})
    assert cli.main(["--environments", str(environments), "render"]) == 2
    err = capsys.readouterr().err
    assert "staging config: deploy.repo_url" in err and repr(value) in err
    assert "git remote add origin" in err and "Traceback" not in err


def test_without_a_url_nothing_is_rendered_for_argocd_and_the_message_says_what_to_set(
    tmp_path: Path, environments: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--environments", str(environments), "render"]) == 0
    err = capsys.readouterr().err
    assert "No Argo CD Application for dev, prod, staging" in err
    assert "deploy.repo_url" in err and "git remote add origin" in err
    for env in ENVS:
        assert not manifests.argocd_path(environments, env).exists()
        assert "deploy.repo_url" in (environments / env / "argocd" / "README.md").read_text()
    with pytest.raises(ConfigError, match=r"deploy\.repo_url"):
        argocd.target_for("staging", tmp_path)
    # Once the remote exists, the Application replaces the note, and a stale note is seen.
    _git_origin(tmp_path, "https://github.com/acme/taxi-tips")
    drift = {
        (d.path.split("environments/")[-1], d.kind)
        for d in manifests.render(environments, ["dev"], check=True)
    }
    assert drift == {
        ("dev/argocd/application.yaml", "missing"),
        ("dev/argocd/README.md", "unexpected"),
    }
    manifests.render(environments, ["dev"], check=False)
    assert sorted(p.name for p in (environments / "dev" / "argocd").iterdir()) == [
        "application.yaml"
    ]


def test_nothing_committed_names_the_placeholder() -> None:
    committed = [
        p
        for e in ENVS
        for f in ("manifests", "argocd")
        for p in (ENVIRONMENTS_DIR / e / f).glob("*")
    ]
    assert committed and not [p for p in committed if "YOUR_ORG" in p.read_text()]
    assert "YOUR_ORG" not in (ENVIRONMENTS_DIR / "base" / "config.yaml").read_text()
