"""The prod preflight refuses to run without a real approval gate (fake GitHub API server)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from core.paths import REPO_ROOT
from delivery import prod_gate
from tests.support.fake_http import FakeHttp
from tests.support.github import REVIEWED, FakeGitHub


@pytest.fixture
def github() -> Iterator[Callable[[dict | None], FakeGitHub]]:
    with ExitStack() as started:
        yield lambda environment: started.enter_context(FakeGitHub(environment))


def test_an_environment_with_required_reviewers_passes(github) -> None:
    fake = github(REVIEWED)
    lines = prod_gate.preflight(fake.env())
    assert lines == [
        "ref: refs/heads/main",
        "'production' requires a review by ml-release-approvers, octocat",
    ]
    assert [r.target for r in fake.requests] == ["/repos/acme/taxi/environments/production"]


def test_a_missing_environment_is_refused_because_github_would_create_it_open(github) -> None:
    with pytest.raises(prod_gate.Refused, match=r"does not exist\. GitHub would create it"):
        prod_gate.preflight(github(None).env())


def test_an_environment_without_reviewers_is_refused(github) -> None:
    open_env = {
        **REVIEWED,
        "protection_rules": [
            {"type": "wait_timer", "wait_timer": 5},
            {"type": "required_reviewers", "reviewers": []},
        ],
    }
    with pytest.raises(prod_gate.Refused, match=r"has no required reviewers.*PROD_APPROVAL"):
        prod_gate.preflight(github(open_env).env())


def test_missing_branch_policy_is_named(github) -> None:
    lines = prod_gate.preflight(github({**REVIEWED, "deployment_branch_policy": None}).env())
    assert "limit its deployment branches to main" in lines[1]


@pytest.mark.parametrize("ref", ["refs/heads/feature", "refs/tags/v1", ""])
def test_a_dispatch_from_another_ref_is_refused_before_any_api_call(github, ref: str) -> None:
    fake = github(REVIEWED)
    with pytest.raises(prod_gate.Refused, match="runs only from main"):
        prod_gate.preflight(fake.env(GITHUB_REF=ref))
    assert fake.requests == []


def test_bad_credentials_are_an_infrastructure_error(github) -> None:
    with pytest.raises(prod_gate.Unreachable, match="HTTP 401"):
        prod_gate.preflight(github(REVIEWED).env(GITHUB_TOKEN="wrong"))


def test_the_codeowners_opt_in_refuses_the_template_as_shipped(tmp_path: Path) -> None:
    """The shipped CODEOWNERS names a placeholder team; the rest of the opt-in's checks are in
    test_codeowners_gate.py."""
    env = {"GITHUB_REF": "refs/heads/main", "PROD_APPROVAL": "codeowners"}
    (tmp_path / ".github").mkdir()
    shutil.copy(REPO_ROOT / ".github" / "CODEOWNERS", tmp_path / ".github")
    with pytest.raises(prod_gate.Refused, match="placeholder @YOUR_ORG"):
        prod_gate.preflight(env, tmp_path)
    with pytest.raises(prod_gate.Refused, match="the only setting is 'codeowners'"):
        prod_gate.preflight({**env, "PROD_APPROVAL": "yes"}, tmp_path)


def test_it_runs_on_the_runners_python_without_the_project_environment(github) -> None:
    python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
    fake = github(None)
    out = subprocess.run(
        [python, "-m", "delivery.prod_gate"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], **fake.env()},
    )
    assert out.returncode == 1, out.stderr
    assert "prod preflight: refused: the 'production' environment does not exist" in out.stderr


def test_a_403_on_the_environment_names_the_missing_permission() -> None:
    """A token without `actions: read` cannot see the environment: that is named, never 'ok'."""
    answer = (403, {"message": "Resource not accessible"})
    with FakeHttp(lambda request: answer) as fake, pytest.raises(prod_gate.Unreachable) as err:
        prod_gate.fetch_environment(fake.url, "acme/taxi", "a-token")
    assert "HTTP 403" in str(err.value) and "`actions: read`" in str(err.value)
    assert [r.path for r in fake.requests] == ["/repos/acme/taxi/environments/production"]
