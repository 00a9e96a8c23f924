"""Does merging to main require a pull request with a code-owner review? Asked of GitHub.

A CODEOWNERS file alone enforces nothing: GitHub asks code owners for a review only when main's
rules require it. Those rules live in two places, and either may hold the setting:
- rulesets, `GET /repos/{o}/{r}/rules/branches/main` (readable by any token that can read the
  repository): a `pull_request` rule whose parameters say `require_code_owner_review: true`;
- classic branch protection, `GET /repos/{o}/{r}/branches/main/protection` (needs the
  "Administration: read" permission, which a workflow's GITHUB_TOKEN cannot hold):
  `required_pull_request_reviews.require_code_owner_reviews`.
Private repositories on GitHub Free have neither feature; the API answers 403 (or 404). That is a
refusal naming the plan limit, never "ok": on such a repository anyone with write access can merge
the promotion pull request. (docs.github.com, "About protected branches", "Get rules for a
branch", "Get branch protection".)
"""

from __future__ import annotations

from typing import Any

from delivery import github_api
from delivery.gate_errors import Refused

BRANCH = "main"
SETTING = "'Require a pull request before merging' with 'Require review from Code Owners'"
WHERE = "Settings -> Rules -> Rulesets -> New branch ruleset, target the default branch"
PLAN_LIMIT = (
    "GitHub answered HTTP {status} for main's rules: private repositories on the Free plan have "
    "neither rulesets nor branch protection, so nothing stops anyone with write access from "
    "merging the promotion pull request. Move the repository to GitHub Team (or Enterprise), "
    "or make it public, then turn on " + SETTING + " for main (" + WHERE + "). Until then no "
    "prod approval can be enforced on this repository."
)

# The bot force-pushes promote/prod when a promotion is re-run: an approval given to one version
# must not carry over to another.
STALE = (
    "main requires a code owner's review, but an approval survives new commits: a re-run of "
    "promote-prod rewrites promote/prod, and the old approval would merge the new version. Turn "
    "on 'Dismiss stale pull request approvals when new commits are pushed' in {where}."
)


def _codeowner_rule(rules: Any) -> dict | None:
    for rule in rules if isinstance(rules, list) else []:
        params = rule.get("parameters") or {}
        if rule.get("type") == "pull_request" and params.get("require_code_owner_review") is True:
            return rule
    return None


def _pull_request_rule(rules: Any) -> dict | None:
    for rule in rules if isinstance(rules, list) else []:
        if rule.get("type") == "pull_request":
            return rule
    return None


def check(api: str, repository: str, token: str) -> str:
    """The line that says which rule holds; `Refused` with the setting to turn on otherwise."""
    rules_status, rules = github_api.get(
        api, f"/repos/{repository}/rules/branches/{BRANCH}?per_page=100", token
    )
    found = _codeowner_rule(rules) if rules_status == 200 else None
    if found is not None:
        if found["parameters"].get("dismiss_stale_reviews_on_push") is not True:
            raise Refused(STALE.format(where="that ruleset's 'Require a pull request'"))
        source = found.get("ruleset_source") or repository
        return (
            f"main's ruleset (id {found.get('ruleset_id', '?')}, from {source}) requires a pull "
            f"request with a code-owner review"
        )
    protection_status, protection = github_api.get(
        api, f"/repos/{repository}/branches/{BRANCH}/protection", token
    )
    reviews = (
        (protection or {}).get("required_pull_request_reviews")
        if protection_status == 200
        else None
    )
    if reviews and reviews.get("require_code_owner_reviews") is True:
        if reviews.get("dismiss_stale_reviews") is not True:
            raise Refused(STALE.format(where="main's branch protection rule"))
        return "main's branch protection requires a pull request with a code-owner review"
    if rules_status != 200:
        raise Refused(PLAN_LIMIT.format(status=rules_status))
    if _pull_request_rule(rules) is not None:
        raise Refused(
            "main's ruleset requires a pull request but not a code owner's review, so anyone "
            "with write access may approve the promotion. Turn on 'Require review from Code "
            "Owners' in that ruleset's 'Require a pull request before merging' (Settings -> "
            "Rules -> Rulesets)."
        )
    if reviews:
        raise Refused(
            "main's branch protection requires a pull request but not a code owner's review. "
            "Turn on 'Require review from Code Owners' in the branch protection rule for main "
            "(Settings -> Branches)."
        )
    unreadable = (
        f" Classic branch protection answered HTTP {protection_status}: a workflow's token "
        "cannot read it (it needs Administration: read), so state the rule as a ruleset, which "
        "the preflight can read."
        if protection_status == 403
        else ""
    )
    raise Refused(
        f"merging to main requires no code-owner review: no ruleset on main has a pull_request "
        f"rule with require_code_owner_review, and no branch protection requires code-owner "
        f"reviews, so a promotion pull request could be merged unapproved. Turn on {SETTING} "
        f"for main ({WHERE}).{unreadable}"
    )
