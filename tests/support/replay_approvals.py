"""What GitHub holds for a person's decision, for the replay (tests/support/replay.py).

- A job in an environment with required reviewers waits until a reviewer approves the
  deployment; a rejection fails the job, and the jobs that need it are skipped. The replay runs
  synchronously, so "waits" means the test must decide: a job reaching such an environment
  without a decision raises `AwaitingReview` (on GitHub it would wait, then time out).
- Since 2026-06-11 a `pull_request` run of a pull request opened by `github-actions[bot]` waits
  until someone with write access approves it ("Approve workflows to run"). The replay keeps such
  runs in `Approvals.held` until `Replay.approve_held_runs` runs them.
Environments without reviewers (every environment of a private repository below Enterprise)
run at once, as on GitHub.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BOT = "github-actions[bot]"


class AwaitingReview(Exception):
    """A job waits for an environment's reviewers, and the test gave no decision."""


# (workflow, job id, environment, its reviewers) -> True: approve, False: reject
Reviewer = Callable[[str, str, str, list[str]], bool]


@dataclass
class HeldRun:
    """A pull_request run GitHub keeps waiting for a maintainer's approval."""

    workflow: str
    ref: str
    payload: dict


@dataclass
class Approvals:
    """The repository's reviewers per environment, the test's decisions, and what waited."""

    reviewers: dict[str, list[str]] = field(default_factory=dict)  # environment -> reviewers
    reviewer: Reviewer | None = None
    reviewed: list[tuple[str, str, str, bool]] = field(default_factory=list)
    held: list[HeldRun] = field(default_factory=list)
    approving: bool = False  # a maintainer approved the held runs now starting

    def environment_gate(self, workflow: str, job_id: str, job: dict) -> str | None:
        """None when the job may run now; else the log line of a rejected deployment."""
        environment = job.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name")
        names = self.reviewers.get(str(environment or ""), [])
        if not names:
            return None
        if self.reviewer is None:
            raise AwaitingReview(
                f"{workflow}/{job_id} waits for a review of environment {environment!r} by "
                f"{', '.join(names)}: give the replay a reviewer decision"
            )
        approved = self.reviewer(workflow, job_id, str(environment), names)
        self.reviewed.append((workflow, job_id, str(environment), approved))
        if approved:
            return None
        return f"{workflow}/{job_id}: deployment to {environment!r} rejected by a reviewer"

    def holds(self, workflow: str, event: str, ref: str, payload: dict | None) -> bool:
        """Keep a bot-opened pull request's run for approval; True when it was held."""
        opener = ((payload or {}).get("pull_request") or {}).get("user") or {}
        if self.approving or event != "pull_request" or opener.get("login") != BOT:
            return False
        self.held.append(HeldRun(workflow, ref, payload or {}))
        return True
