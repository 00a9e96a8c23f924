"""The pull-request gate (PROD_APPROVAL=codeowners) holds only if GitHub enforces it: main's
rules must require a code owner's review, and CODEOWNERS must name live owners for every file a
promotion changes. Each plan and setting is answered by the fake GitHub API."""

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
from tests.support import github_plans as plans
from tests.support.github import REVIEWED, FakeGitHub

OWNED = "/environments/prod/ @acme/ml-release-approvers\n"


@pytest.fixture
def github() -> Iterator[Callable[..., FakeGitHub]]:
    with ExitStack() as started:
        yield lambda environment=None, routes=None: started.enter_context(
            FakeGitHub(environment, routes=routes)
        )


def checkout(root: Path, codeowners: str = OWNED) -> Path:
    """A checkout of main: CODEOWNERS, and prod's folder as a promotion leaves it."""
    (root / ".github").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "CODEOWNERS").write_text(codeowners)
    (root / "environments" / "prod" / "manifests").mkdir(parents=True, exist_ok=True)
    (root / "environments" / "prod" / "config.yaml").write_text("extends: cloud\n")
    return root


def codeowners_env(fake: FakeGitHub) -> dict[str, str]:
    return fake.env(PROD_APPROVAL="codeowners")


RULE_STATES = {
    "ruleset requires code owners": plans.routes(rules=(200, [plans.pull_request_rule(True)])),
    "protection requires code owners": plans.routes(
        branch_protection=(200, plans.protection(True))
    ),
    "ruleset without code owners": plans.routes(rules=(200, [plans.pull_request_rule(False)])),
    "protection without code owners": plans.routes(
        branch_protection=(200, plans.protection(False))
    ),
    "no rules, protection unreadable": plans.routes(),
    "no rules, not protected": plans.routes(branch_protection=(404, plans.NOT_PROTECTED)),
    "private free plan (403)": plans.PRIVATE_FREE,
    "rules endpoint 404": plans.routes(
        rules=(404, {"message": "Not Found"}), branch_protection=(404, {"message": "Not Found"})
    ),
}
HOLDS = {"ruleset requires code owners", "protection requires code owners"}


@pytest.mark.parametrize("reviewers", [True, False], ids=["reviewers", "no-reviewers"])
@pytest.mark.parametrize("rules", sorted(RULE_STATES))
@pytest.mark.parametrize("mode", ["", "codeowners"])
def test_every_combination_passes_only_where_an_approval_is_enforced(
    github, tmp_path: Path, reviewers: bool, rules: str, mode: str
) -> None:
    """Environment mode needs reviewers and ignores branch rules; codeowners mode needs a
    code-owner rule on main and ignores environment reviewers. Nothing else is "ok"."""
    fake = github(REVIEWED if reviewers else None, RULE_STATES[rules])
    env = fake.env(PROD_APPROVAL=mode) if mode else fake.env()
    holds = reviewers if mode == "" else rules in HOLDS
    if holds:
        lines = prod_gate.preflight(env, checkout(tmp_path))
        assert len(lines) == (2 if mode == "" else 3), lines
    else:
        with pytest.raises(prod_gate.Refused):
            prod_gate.preflight(env, checkout(tmp_path))


def test_a_ruleset_with_code_owner_review_passes_and_says_which(github, tmp_path: Path) -> None:
    fake = github(None, plans.TEAM_WITH_RULESET)
    lines = prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
    assert lines == [
        "ref: refs/heads/main",
        "pull-request gate: main's ruleset (id 42, from acme/taxi) requires a pull request "
        "with a code-owner review",
        ".github/CODEOWNERS requires @acme/ml-release-approvers to review environments/prod/",
    ]
    assert [r.path for r in fake.requests] == [
        "/repos/acme/taxi/rules/branches/main",
        "/repos/acme/taxi/codeowners/errors",
    ]


def test_classic_protection_with_code_owner_reviews_passes(github, tmp_path: Path) -> None:
    fake = github(None, plans.routes(branch_protection=(200, plans.protection(True))))
    lines = prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
    assert lines[1] == (
        "pull-request gate: main's branch protection requires a pull request with a "
        "code-owner review"
    )


def test_a_private_free_repository_is_refused_naming_the_plan_limit(github, tmp_path: Path) -> None:
    fake = github(None, plans.PRIVATE_FREE)
    with pytest.raises(prod_gate.Refused) as refused:
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
    text = str(refused.value)
    assert "HTTP 403" in text and "private repositories on the Free plan" in text
    assert "GitHub Team" in text and "Require review from Code Owners" in text


def test_a_rule_without_code_owner_review_names_the_setting(github, tmp_path: Path) -> None:
    fake = github(None, plans.routes(rules=(200, [plans.pull_request_rule(False)])))
    with pytest.raises(prod_gate.Refused, match=r"Turn on 'Require review from Code Owners' in"):
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
    fake = github(None, plans.routes(branch_protection=(200, plans.protection(False))))
    with pytest.raises(prod_gate.Refused, match=r"branch protection rule for main"):
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))


def test_no_rules_on_main_is_refused_with_where_to_add_one(github, tmp_path: Path) -> None:
    fake = github(None, plans.TEAM_WITHOUT_RULES)
    with pytest.raises(prod_gate.Refused) as refused:
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
    text = str(refused.value)
    assert "requires no code-owner review" in text and "Rulesets -> New branch ruleset" in text
    assert "Administration: read" in text  # why classic protection could not be read


@pytest.mark.parametrize(
    ("codeowners", "message"),
    [
        ("/environments/production/ @acme/approvers\n", "names no owner for environments/prod/"),
        ("/docs/ @acme/writers\n", "names no owner for environments/prod/"),
        (OWNED + "/environments/prod/manifests/\n", r"line 2 \(/environments/prod/manifests/\)"),
        ("/environments/prod/ @YOUR_ORG/ml-release-approvers\n", "placeholder @YOUR_ORG"),
    ],
    ids=["folder-renamed", "other-paths-only", "unowned-by-a-later-line", "placeholder"],
)
def test_a_stale_codeowners_is_refused_before_any_api_call(
    github, tmp_path: Path, codeowners: str, message: str
) -> None:
    fake = github(None, plans.TEAM_WITH_RULESET)
    with pytest.raises(prod_gate.Refused, match=message):
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path, codeowners))
    assert fake.requests == []


def test_no_codeowners_file_is_refused(github, tmp_path: Path) -> None:
    root = checkout(tmp_path)
    (root / ".github" / "CODEOWNERS").unlink()
    with pytest.raises(prod_gate.Refused, match="has no CODEOWNERS file"):
        prod_gate.preflight(codeowners_env(github(None, plans.TEAM_WITH_RULESET)), root)


def test_an_owner_github_does_not_know_is_refused(github, tmp_path: Path) -> None:
    """A deleted team still reads fine locally; GitHub's own CODEOWNERS errors catch it."""
    unknown = {
        "errors": [
            {
                "line": 2,
                "column": 21,
                "kind": "Unknown owner",
                "source": "/environments/prod/ @acme/gone-team",
                "message": "Unknown owner on line 2: make sure @acme/gone-team exists.",
                "path": ".github/CODEOWNERS",
            }
        ]
    }
    text = "/docs/ @acme/writers\n/environments/prod/ @acme/gone-team\n"
    fake = github(None, {**plans.TEAM_WITH_RULESET, plans.CODEOWNERS_ERRORS: (200, unknown)})
    with pytest.raises(prod_gate.Refused, match=r"Unknown owner on .github/CODEOWNERS line 2"):
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path, text))
    elsewhere = {"errors": [{**unknown["errors"][0], "line": 1}]}  # a line prod does not use
    fake = github(None, {**plans.TEAM_WITH_RULESET, plans.CODEOWNERS_ERRORS: (200, elsewhere)})
    assert prod_gate.preflight(codeowners_env(fake), checkout(tmp_path, text))[2].endswith(
        "@acme/gone-team to review environments/prod/"
    )


def test_the_refusal_exits_1_with_the_reason_and_no_traceback(github, tmp_path: Path) -> None:
    python = shutil.which("python3", path="/usr/bin:/bin") or "python3"
    fake = github(None, plans.PRIVATE_FREE)
    root = checkout(tmp_path)
    shutil.copytree(REPO_ROOT / "delivery", root / "delivery")
    out = subprocess.run(
        [python, "-m", "delivery.prod_gate"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], **codeowners_env(fake)},
    )
    assert out.returncode == 1, out.stderr
    assert out.stderr.startswith("prod preflight: refused: GitHub answered HTTP 403")
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_an_approval_that_survives_new_commits_is_refused(github, tmp_path: Path) -> None:
    """promote/prod is force-pushed on a re-run: a stale approval would merge another version."""
    rule = plans.pull_request_rule(True)
    rule["parameters"]["dismiss_stale_reviews_on_push"] = False
    fake = github(None, plans.routes(rules=(200, [rule])))
    with pytest.raises(prod_gate.Refused, match=r"'Dismiss stale pull request approvals"):
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
    protected = plans.protection(True)
    protected["required_pull_request_reviews"]["dismiss_stale_reviews"] = False
    fake = github(None, plans.routes(branch_protection=(200, protected)))
    with pytest.raises(prod_gate.Refused, match=r"in main's branch protection rule"):
        prod_gate.preflight(codeowners_env(fake), checkout(tmp_path))
