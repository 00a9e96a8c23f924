"""The workflows' order, concurrency and runtime: what GitHub does with them, not only their shape.

- Nothing is published from a commit whose tests failed.
- GitHub keeps one running and one pending run per concurrency group and cancels the older
  pending one; the model below applies that rule to the groups the workflows declare.
- Every action is pinned by commit SHA to a release of a major that runs on Node 24 (Node 20
  left the hosted runners on 2026-09-16), and every job names its runner image.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from tests.delivery.test_workflows import ALL, REUSABLE, WORKFLOWS, called, load, steps_of
from tests.support.replay import Scope
from tools import workflow_lint

# The first major of each action whose action.yml declares `runs.using: node24`, read from the
# tags' action.yml in the action's repository. An action not listed here has not been checked.
NODE24_SINCE = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/cache": 5,
    "actions/cache/restore": 5,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/create-github-app-token": 3,
    "docker/setup-buildx-action": 4,
    "docker/login-action": 4,
    "docker/build-push-action": 7,
    "google-github-actions/auth": 3,
    # Composite: v4.1.0 runs actions/attest v4.1.0, whose action.yml declares node24.
    "actions/attest-build-provenance": 4,
}
PINNED = re.compile(
    r"uses:\s*(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})"
    r"\s+#\s*v(?P<major>\d+)\.\d+\.\d+\s*$"
)
RUNNER = "ubuntu-24.04"  # pinned, not ubuntu-latest: see the README's "Set up on GitHub"


def _effective(name: str, job: dict, seen: tuple = ()) -> list[dict]:
    """The steps a job runs, through a called workflow's jobs and local composite actions."""
    target = called(job)
    if not target:
        return steps_of(job)
    assert target not in seen, f"{name} calls itself through {target}"
    return [s for inner in load(target)["jobs"].values() for s in _effective(target, inner, seen)]


def _runs(name: str, job: dict) -> list[str]:
    return [s["run"].strip() for s in _effective(name, job) if "run" in s]


def _publishes(name: str, job: dict) -> bool:
    """Trains into the registry: `make run` without OUTPUT= (a runner-local folder)."""
    return any(r.startswith("make run ") and "OUTPUT=" not in r for r in _runs(name, job))


def _needs(job: dict) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _upstream(jobs: dict, job_id: str) -> set[str]:
    out: set[str] = set()
    todo = _needs(jobs[job_id])
    while todo:
        need = todo.pop()
        if need not in out:
            out.add(need)
            todo += _needs(jobs[need])
    return out


# --- order ------------------------------------------------------------------------------------


def test_nothing_is_published_from_a_commit_whose_tests_failed() -> None:
    publishers = []
    for name in ALL:
        if name in REUSABLE:  # checked where it is called
            continue
        jobs = load(name)["jobs"]
        for job_id, job in jobs.items():
            if not _publishes(name, job):
                continue
            publishers.append(f"{name}/{job_id}")
            tested = [n for n in _upstream(jobs, job_id) if "make test" in _runs(name, jobs[n])]
            assert tested, f"{name}/{job_id} publishes without `needs:` on a job running make test"
            # always(), failure() or cancelled() in `if:` would run it after failed tests.
            condition = str(job.get("if", ""))
            assert not re.search(r"\b(always|failure|cancelled)\(", condition), (
                f"{name}/{job_id}: `if: {condition}` runs it even when the tests failed"
            )
    assert {"ci.yml/pipeline", "ct.yml/train"} <= set(publishers), publishers


# --- concurrency ------------------------------------------------------------------------------


def _group(spec: dict | str | None, github: dict) -> tuple[str, bool] | None:
    """(group, cancel-in-progress) as GitHub evaluates a `concurrency:` for an event."""
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"group": spec}
    scope = Scope({"github": github})
    cancel = scope.template(spec.get("cancel-in-progress", False))
    return str(scope.template(spec["group"])), cancel is True or cancel == "true"


def _queue(arrivals: list[tuple[tuple[str, bool] | None, str]]) -> tuple[list[str], list[str]]:
    """GitHub's rule for runs arriving while the first of each group still runs: one running
    and one pending per group; a newer arrival cancels the pending one (and with
    cancel-in-progress the running one too). Returns (what ran, what was cancelled)."""
    running: dict[str, str] = {}
    pending: dict[str, str] = {}
    ran: list[str] = []
    cancelled: list[str] = []
    for group, name in arrivals:
        if group is None:
            ran.append(name)
            continue
        key, cancel = group
        if key in pending:
            cancelled.append(pending.pop(key))
        if cancel and key in running:
            cancelled.append(running.pop(key))
            ran.remove(cancelled[-1])
        if key in running:
            pending[key] = name
        else:
            running[key] = name
            ran.append(name)
    return ran + list(pending.values()), cancelled


def _push(sha: str) -> dict:
    return {"event_name": "push", "ref": "refs/heads/main", "sha": sha}


def test_three_quick_pushes_to_main_are_all_tested_and_the_newest_is_trained() -> None:
    ci = load("ci.yml")
    train = load("train.yml")["jobs"]["train"]
    pushes = ["A", "B", "C"]
    tested, skipped = _queue([(_group(ci["concurrency"], _push(sha)), sha) for sha in pushes])
    assert (tested, skipped) == (pushes, []), "every commit on main gets its own test verdict"
    # The tests finish in order; each run's pipeline job then waits on the training group.
    pipeline = ci["jobs"]["pipeline"]
    assert called(pipeline) == "train.yml" and "concurrency" not in pipeline
    trained, cancelled = _queue([(_group(train.get("concurrency"), _push(s)), s) for s in pushes])
    assert trained == ["A", "C"] and cancelled == ["B"], (trained, cancelled)
    # B's run ends "cancelled", and cd-dev deploys only a successful run of ci.
    assert "conclusion == 'success'" in load("cd-dev.yml")["jobs"]["deploy-dev"]["if"]
    # Continuous training shares the group: never two trainings publishing at once.
    assert called(load("ct.yml")["jobs"]["train"]) == "train.yml"


def test_a_newer_push_to_a_pull_request_cancels_its_older_run() -> None:
    ci = load("ci.yml")
    event = {"event_name": "pull_request", "ref": "refs/pull/7/merge"}
    runs = [(_group(ci["concurrency"], {**event, "sha": s}), s) for s in ("P1", "P2", "P3")]
    assert _queue(runs) == (["P3"], ["P1", "P2"])


def test_the_readme_says_what_happens_to_intermediate_pushes() -> None:
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert "the middle commit is tested but not trained" in readme
    assert "runs on main always finish" not in (WORKFLOWS / "ci.yml").read_text()


# --- runtime ----------------------------------------------------------------------------------


def _uses_lines() -> list[tuple[str, str]]:
    files = sorted(WORKFLOWS.glob("*.yml")) + sorted(
        (REPO_ROOT / ".github").glob("actions/*/*.yml")
    )
    out = []
    for path in files:
        for line in path.read_text().splitlines():
            if re.match(r"\s*(-\s*)?uses:", line) and "uses: ./" not in line:
                out.append((str(path.relative_to(REPO_ROOT)), line.strip()))
    return out


def test_every_action_is_pinned_by_sha_to_a_release_that_runs_on_node24() -> None:
    lines = _uses_lines()
    assert len(lines) > 10
    pins: dict[str, set[str]] = {}
    for path, line in lines:
        match = PINNED.search(line)
        assert match, f"{path}: `{line}` is not `uses: owner/repo@<40-hex sha> # vX.Y.Z`"
        action = match["action"]
        assert action in NODE24_SINCE, (
            f"{path}: {action} is unchecked; read its action.yml at the tag and add the first "
            f"major declaring `using: node24` to NODE24_SINCE"
        )
        assert int(match["major"]) >= NODE24_SINCE[action], (
            f"{path}: {action} v{match['major']} runs on Node 20, removed from hosted runners; "
            f"pin v{NODE24_SINCE[action]} or later"
        )
        pins.setdefault(action.split("/")[0] + "/" + action.split("/")[1], set()).add(
            line.split("@", 1)[1]
        )
    for repo, refs in pins.items():
        assert len(refs) == 1, f"{repo} is pinned to more than one release: {sorted(refs)}"


@pytest.mark.parametrize("name", ALL)
def test_every_job_names_its_runner_image(name: str) -> None:
    for job_id, job in load(name)["jobs"].items():
        if not called(job):
            assert job["runs-on"] == RUNNER, f"{name}/{job_id}: runs-on {job['runs-on']}"


def test_the_readme_says_which_runner_image_and_why() -> None:
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert f"Jobs run on `{RUNNER}`, pinned, not `ubuntu-latest`" in readme


def test_the_pin_check_refuses_a_major_tag_and_a_node20_release() -> None:
    assert not PINNED.search("uses: actions/checkout@v7")
    assert not PINNED.search("uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1")
    old = PINNED.search("uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2")
    assert old and int(old["major"]) < NODE24_SINCE["actions/checkout"]


# --- zizmor over the repository ---------------------------------------------------------------


@pytest.mark.node
def test_workflow_lint_audits_dependabot_config_not_only_workflows(tmp_path: Path) -> None:
    github = tmp_path / ".github"
    shutil.copytree(REPO_ROOT / ".github", github)
    dependabot = github / "dependabot.yml"
    ok, report = workflow_lint.lint(github / "workflows")
    assert ok, report
    config = yaml.safe_load(dependabot.read_text())
    for update in config["updates"]:
        days = (update.get("cooldown") or {}).get("default-days", 0)
        assert days >= 7, f"{update['package-ecosystem']}: cooldown {days} days, want 7 or more"
        update.pop("cooldown")
    dependabot.write_text(yaml.safe_dump(config))
    ok, report = workflow_lint.lint(github / "workflows")
    assert not ok and "dependabot-cooldown" in report, report
