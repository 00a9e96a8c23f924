"""A fake of GitHub's REST API for the prod preflight: environments, reviewers and branch
policies as a repository's settings would answer them."""

from __future__ import annotations

from tests.support.fake_http import FakeHttp, Request

REVIEWED = {
    "name": "production",
    "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    "protection_rules": [
        {"type": "wait_timer", "wait_timer": 0},
        {
            "type": "required_reviewers",
            "reviewers": [
                {"type": "Team", "reviewer": {"slug": "ml-release-approvers"}},
                {"type": "User", "reviewer": {"login": "octocat"}},
            ],
        },
    ],
}


class FakeGitHub(FakeHttp):
    """`GET /repos/<repository>/environments/production` answers `environment` (None: 404);
    `routes` adds answers by path under /repos/<repository> (see tests/support/github_plans.py)."""

    def __init__(
        self,
        environment: dict | None,
        token: str = "ghs_x",
        repository: str = "acme/taxi",
        routes: dict[str, tuple[int, object]] | None = None,
    ) -> None:
        def answer(request: Request) -> tuple[int, object]:
            wanted = request.target == f"/repos/{repository}/environments/production"
            if wanted and environment is not None:
                return 200, environment
            extra = (routes or {}).get(request.path.removeprefix(f"/repos/{repository}"))
            if extra is not None:
                return extra
            return 404, {"message": "Not Found"}

        super().__init__(answer, token=token, refused={"message": "Bad credentials"})

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REPOSITORY": "acme/taxi",
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": "ghs_x",
            **extra,
        }
