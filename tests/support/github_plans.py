"""What GitHub's API answers about main's rules and CODEOWNERS on each plan, for the fake API
(`FakeGitHub(..., routes=...)`). Shapes from docs.github.com: "Get rules for a branch" (a list of
rules, `pull_request` with `parameters.require_code_owner_review`), "Get branch protection"
(`required_pull_request_reviews.require_code_owner_reviews`; 404 "Branch not protected"; a
workflow token without Administration: read gets 403), "List CODEOWNERS errors". A private
repository on the Free plan answers 403 for both rule endpoints."""

from __future__ import annotations

RULES = "/rules/branches/main"
PROTECTION = "/branches/main/protection"
CODEOWNERS_ERRORS = "/codeowners/errors"

UPGRADE = {
    "message": "Upgrade to GitHub Pro or make this repository public to enable this feature.",
    "documentation_url": "https://docs.github.com/rest/repos/rules#get-rules-for-a-branch",
    "status": "403",
}
NOT_PROTECTED = {"message": "Branch not protected", "status": "404"}
NOT_ACCESSIBLE = {"message": "Resource not accessible by integration", "status": "403"}
NO_ERRORS: dict = {"errors": []}


def pull_request_rule(code_owner: bool) -> dict:
    return {
        "type": "pull_request",
        "ruleset_source_type": "Repository",
        "ruleset_source": "acme/taxi",
        "ruleset_id": 42,
        "parameters": {
            "required_approving_review_count": 1,
            "dismiss_stale_reviews_on_push": True,
            "require_code_owner_review": code_owner,
            "require_last_push_approval": False,
            "required_review_thread_resolution": False,
        },
    }


def protection(code_owner: bool) -> dict:
    return {
        "url": "https://api.github.com/repos/acme/taxi/branches/main/protection",
        "required_pull_request_reviews": {
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": code_owner,
            "required_approving_review_count": 1,
        },
        "enforce_admins": {"enabled": True},
    }


def routes(
    rules: tuple[int, object] = (200, []),
    branch_protection: tuple[int, object] = (403, NOT_ACCESSIBLE),
    errors: tuple[int, object] = (200, NO_ERRORS),
) -> dict[str, tuple[int, object]]:
    """Answers by path; the defaults are a Team-plan repository with nothing set up, read with a
    workflow's token (which cannot read classic protection)."""
    return {RULES: rules, PROTECTION: branch_protection, CODEOWNERS_ERRORS: errors}


# The plans of the README's table, as the codeowners preflight meets them.
PRIVATE_FREE = routes(rules=(403, UPGRADE), branch_protection=(403, UPGRADE))
TEAM_WITH_RULESET = routes(rules=(200, [pull_request_rule(code_owner=True)]))
TEAM_WITHOUT_RULES = routes()
