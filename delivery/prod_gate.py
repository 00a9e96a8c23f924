"""Preflight of the prod and rollback workflows: the approval gate must really exist.

`environment: production` waits for reviewers only if the environment has them. A repository made
from this template carries no environments: GitHub creates `production` on first use with no
protection, and the job runs unapproved. And a dispatch from another branch runs that branch's
copy of the workflow. So before anything is promoted this checks, through GitHub's REST API:

- the run is for refs/heads/main;
- the `production` environment exists and has required reviewers;
- or the repository opted into the pull-request gate instead (repository variable
  PROD_APPROVAL=codeowners): then main's rules must require a pull request with a code-owner
  review (delivery/main_rules.py; a plan without rules is refused), CODEOWNERS must name real
  owners for every file a promotion changes (delivery/codeowners.py), and the workflow opens a
  pull request instead of moving anything.

Standard library only: it runs before any dependency is installed.

    python3 -m delivery.prod_gate
Reads GITHUB_REF, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_TOKEN and PROD_APPROVAL.
Exit status: 0 gate in place, 1 refused (the message says what to set), 3 API unreachable.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from delivery import codeowners, github_api, main_rules
from delivery.gate_errors import Refused, Unreachable

__all__ = ["Refused", "Unreachable", "preflight"]

ENVIRONMENT = "production"


def check_ref(ref: str) -> str:
    if ref != "refs/heads/main":
        raise Refused(
            f"this workflow changes production and runs only from main; it was "
            f"dispatched from {ref or '(no ref)'}. Run it from main."
        )
    return "ref: refs/heads/main"


def reviewers_of(environment: dict) -> list[str]:
    names = []
    for rule in environment.get("protection_rules") or []:
        if rule.get("type") == "required_reviewers":
            for entry in rule.get("reviewers") or []:
                who = entry.get("reviewer") or {}
                names.append(who.get("login") or who.get("slug") or who.get("name") or "?")
    return names


def fetch_environment(api: str, repository: str, token: str) -> dict | None:
    """The `production` environment as the API describes it; None when it does not exist."""
    path = f"/repos/{repository}/environments/{ENVIRONMENT}"
    status, body = github_api.get(api, path, token)
    if status == 404:
        return None
    if status == 403:
        raise Unreachable(
            f"GitHub API {api.rstrip('/')}{path}: HTTP 403; the job needs `actions: read` to "
            "read environments"
        )
    return body


def check_reviewers(environment: dict | None) -> str:
    if environment is None:
        raise Refused(
            f"the '{ENVIRONMENT}' environment does not exist. GitHub would create it "
            f"on first use with no reviewers, and this job would run unapproved. "
            f"Create it (Settings -> Environments) with required reviewers, or opt "
            f"into the pull-request gate: repository variable PROD_APPROVAL="
            f"codeowners (see README, 'Set up on GitHub')."
        )
    reviewers = reviewers_of(environment)
    if not reviewers:
        raise Refused(
            f"the '{ENVIRONMENT}' environment has no required reviewers, so nobody "
            f"would approve this change. Add reviewers (Settings -> Environments -> "
            f"{ENVIRONMENT}), or opt into the pull-request gate: repository variable "
            f"PROD_APPROVAL=codeowners (see README, 'Set up on GitHub')."
        )
    policy = environment.get("deployment_branch_policy")
    note = (
        ""
        if policy
        else (
            " (also limit its deployment branches to main: without that, a "
            "dispatch from another branch runs that branch's workflow file)"
        )
    )
    return f"'{ENVIRONMENT}' requires a review by {', '.join(reviewers)}{note}"


def check_codeowners(env: dict[str, str], root: Path) -> list[str]:
    """The pull-request gate holds: main requires a code owner's review, and CODEOWNERS names
    real owners for every file a promotion changes (read locally and as GitHub reads it)."""
    rel, deciding, owners = codeowners.check(root)
    api = env.get("GITHUB_API_URL", "https://api.github.com")
    repository, token = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_TOKEN", "")
    rule = main_rules.check(api, repository, token)
    codeowners.check_errors(api, repository, token, rel, deciding)
    return [
        f"pull-request gate: {rule}",
        f"{rel} requires {' '.join(owners)} to review environments/prod/",
    ]


def preflight(env: dict[str, str], root: Path = Path(".")) -> list[str]:
    lines = [check_ref(env.get("GITHUB_REF", ""))]
    mode = env.get("PROD_APPROVAL", "")
    if mode == "codeowners":
        lines.extend(check_codeowners(env, root))
    elif mode:
        raise Refused(
            f"repository variable PROD_APPROVAL={mode!r}: the only setting is "
            f"'codeowners' (or unset, for environment reviewers)"
        )
    else:
        environment = fetch_environment(
            env.get("GITHUB_API_URL", "https://api.github.com"),
            env.get("GITHUB_REPOSITORY", ""),
            env.get("GITHUB_TOKEN", ""),
        )
        lines.append(check_reviewers(environment))
    return lines


def main() -> int:
    try:
        lines = preflight(dict(os.environ))
    except (Refused, Unreachable) as exc:
        print(f"prod preflight: refused: {exc}", file=sys.stderr)
        return exc.exit_code
    for line in lines:
        print(f"prod preflight: ok: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
