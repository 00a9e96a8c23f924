"""The prod approval replayed from the workflow files, on the two plans companies meet:

- "private, Free": no rules on main (the API answers 403). promote-prod in codeowners mode is
  refused by its preflight; nothing is proposed, no tag or record moves.
- "Team": a ruleset requires code-owner review. promote-prod only opens promote/prod (prod's
  tag stays); the pull request's CI, opened by github-actions[bot], is held until a maintainer
  approves it; the merge starts cd-prod, which moves prod's tag from the previous release and
  verifies it. A prod rollback takes the same path.
- Environment reviewers (public, Enterprise): the prod job waits for the test's decision; a
  rejection stops it before anything moves.

Models are small fakes published to the session's registry, as in test_replay.py's rollback; the
replayed jobs run the workflows' own `run:` steps against it. What is not replayed: ci.yml's
`test` (the whole suite) and `serving-smoke` (a training run) on the pull request; their run is
held and approved here, which is what this test is about.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from core.verdicts import Verdict
from delivery import prod_gate
from store import release as rel
from store.model_store import open_store
from tests.delivery.test_replay import machine  # noqa: F401 (the fixture)
from tests.support import github_plans as plans
from tests.support import replay as rp
from tests.support.git_remote import Remote, git, render_and_push
from tests.support.github import REVIEWED, FakeGitHub
from tests.support.replay_approvals import BOT, AwaitingReview
from tests.support.stores import fake_model

V1, V2 = 1795000301, 1795000302
OWNERS = (
    "/environments/prod/ @acme/ml-release-approvers\n"
    "/environments/cloud.yaml @acme/ml-release-approvers\n"
)


def _setup(replay: rp.Replay, remote: Remote, registry, tmp_path: Path) -> dict[int, str]:
    """prod runs V1, staging runs V2 with a passing load test; tags as the records say. Returns
    each version's manifest digest."""
    replay.repository = f"acme/approval{os.getpid()}{tmp_path.name[-6:]}".lower()
    replay.env.update(MODEL_REGISTRY=registry.host, GITHUB_REPOSITORY=replay.repository)
    store = open_store(registry.store_uri(f"{replay.repository}/models/taxi_tips"))
    releases, digests = {}, {}
    for version in (V1, V2):
        model = fake_model(tmp_path / "store" / str(version), version)
        art = store.publish(model, version, {"mlops.template.model.name": "taxi_tips"})
        passed = rel.LoadTest(Verdict.PASS, "2030-01-01T00:00:00+00:00", "build/loadtest.md")
        releases[version] = rel.Release(
            model_name="taxi_tips",
            version=version,
            digest=art.tree_digest,
            uri=art.ref,
            promoted_from="staging",
            loadtest=passed,
        )
        digests[version] = art.manifest_digest
    for version, env in ((V1, "prod"), (V2, "staging")):
        artifact = store.resolve(version)
        assert artifact is not None
        store.adopt(artifact, env, None)
    work = remote.clone("seed-records")
    rel.write(work / "environments", rel.Record("prod", releases[V1], []))
    rel.write(work / "environments", rel.Record("staging", releases[V2], [releases[V1]]))
    (work / ".github" / "CODEOWNERS").write_text(OWNERS)
    # No Prometheus scrapes this replay's staging: skipping its shadow analysis is the committed,
    # reviewable decision the analysis-passed rule asks for (rollout.strategy none).
    staging = work / "environments" / "staging" / "config.yaml"
    data = yaml.safe_load(staging.read_text())
    data["rollout"] = {"strategy": "none"}
    staging.write_text(yaml.safe_dump(data, sort_keys=False))
    render_and_push(work, replay.env, "prod runs V1, staging V2; release approvers named")
    return digests


def _tag(registry, replay: rp.Replay, tag: str) -> str | None:
    """The manifest digest `tag` names in the flow's registry repository."""
    store = open_store(registry.store_uri(f"{replay.repository}/models/taxi_tips"))
    return store.tag_digest(tag)  # type: ignore[attr-defined]


def _results(results: dict[str, rp.JobResult]) -> dict[str, str]:
    return {job: r.result for job, r in results.items()}


def _log(results: dict[str, rp.JobResult]) -> str:
    return "\n".join(line for r in results.values() for line in r.log)


def _changed(remote: Remote) -> list[str]:
    return git(remote.bare, "diff", "--name-only", "main^1", "main").split()


@pytest.mark.slow
def test_private_free_plan_refuses_the_codeowners_path(machine, tmp_path: Path, registry) -> None:  # noqa: F811
    replay, remote = machine
    digests = _setup(replay, remote, registry, tmp_path)
    replay.vars["PROD_APPROVAL"] = "codeowners"
    before = git(remote.bare, "rev-parse", "main")
    with FakeGitHub(
        None, token="ghs_replay", repository=replay.repository, routes=plans.PRIVATE_FREE
    ) as api:
        replay.env["GITHUB_API_URL"] = api.url
        results = replay.run("promote-prod.yml", "workflow_dispatch", inputs={"version": str(V2)})
    assert _results(results) == {
        "preflight": "failure",
        "promote-prod": "skipped",
        "propose-prod": "skipped",
        "commit": "skipped",
    }, _log(results)
    assert "private repositories on the Free plan" in _log(results)
    assert git(remote.bare, "rev-parse", "main") == before
    assert remote.gh()["prs"] == {}
    assert _tag(registry, replay, "prod") == digests[V1]


@pytest.mark.slow
def test_team_plan_pull_request_approval_merge_then_prod_synced(
    machine,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    registry,
) -> None:
    replay, remote = machine
    digests = _setup(replay, remote, registry, tmp_path)
    replay.vars["PROD_APPROVAL"] = "codeowners"
    replay.env["GH_STANDIN_ORIGIN"] = str(remote.bare)
    replay.not_replayed.update(
        {
            "ci.yml/test": "the whole suite",
            "ci.yml/init-check": rp.INIT_CHECK,
            "ci.yml/serving-smoke": "a training run",
        }
    )
    with FakeGitHub(
        None, token="ghs_replay", repository=replay.repository, routes=plans.TEAM_WITH_RULESET
    ) as api:
        replay.env["GITHUB_API_URL"] = api.url
        results = replay.run("promote-prod.yml", "workflow_dispatch", inputs={"version": str(V2)})
        assert _results(results) == {
            "preflight": "success",
            "promote-prod": "skipped",
            "propose-prod": "success",
            "commit": "success",
        }, _log(results)
        assert "requires a pull request with a code-owner review" in _log(results)
        # Nothing moved before the review: main's record and prod's tag are V1's.
        assert (
            yaml.safe_load(remote.show("environments/prod/release.yaml"))["current"]["version"]
            == V1
        )
        assert _tag(registry, replay, "prod") == digests[V1]
        pr = remote.gh()["prs"]["promote/prod"]
        assert pr["state"] == "OPEN" and pr["title"] == f"promote(prod): version {V2} from staging"

        # The bot's pull request: its CI is held until a maintainer approves the run.
        opened = {"pull_request": {"user": {"login": BOT}, "head": {"ref": "promote/prod"}}}
        assert (
            replay.run("ci.yml", "pull_request", payload=opened, ref="refs/heads/promote/prod")
            == {}
        )
        assert [h.workflow for h in replay.approvals.held] == ["ci.yml"]
        approved = replay.approve_held_runs()
        assert _results(approved["ci.yml"]) == {
            "test": "success",
            "init-check": "success",
            "serving-smoke": "success",
            "pipeline": "skipped",
        }
        assert replay.approvals.held == []

        # A code owner approves and merges; the merge starts cd-prod.
        merged = subprocess.run(
            ["gh", "pr", "merge", "promote/prod", "--merge"],
            env=remote.env | {"GH_STANDIN_ORIGIN": str(remote.bare)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert merged.returncode == 0, merged.stderr
        assert [n for n in rp_all() if rp.triggers(n, "push", changed=_changed(remote))] == [
            "cd-prod.yml"
        ]
        synced = replay.run("cd-prod.yml", "push", payload={"head_commit": {"message": "merge"}})
        assert _results(synced) == {"sync-prod": "success"}, _log(synced)
        assert _tag(registry, replay, "prod") == digests[V2], digests
        assert f"prod's store serves version {V2}" in _log(synced)

        # Rollback takes the same gate: a pull request, the tag still on V2 until the merge.
        rolled = replay.run("rollback.yml", "workflow_dispatch", inputs={"environment": "prod"})
        assert _results(rolled) == {
            "preflight": "success",
            "rollback": "skipped",
            "propose-rollback": "success",
            "commit": "success",
        }, _log(rolled)
        assert _tag(registry, replay, "prod") == digests[V2]
        assert remote.gh()["prs"]["promote/prod"]["state"] == "OPEN"
        merged = subprocess.run(
            ["gh", "pr", "merge", "promote/prod", "--merge"],
            env=remote.env | {"GH_STANDIN_ORIGIN": str(remote.bare)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert merged.returncode == 0, merged.stderr
        synced = replay.run("cd-prod.yml", "push", payload={"head_commit": {"message": "merge"}})
        assert _results(synced) == {"sync-prod": "success"}, _log(synced)
        assert _tag(registry, replay, "prod") == digests[V1]


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
@pytest.mark.slow
def test_a_prod_job_waits_for_the_environments_reviewers(
    machine,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    registry,
    approve: bool,
) -> None:
    replay, remote = machine
    digests = _setup(replay, remote, registry, tmp_path)
    replay.approvals.reviewers = {"production": prod_gate.reviewers_of(REVIEWED)}
    before = git(remote.bare, "rev-parse", "main")
    with FakeGitHub(REVIEWED, token="ghs_replay", repository=replay.repository) as api:
        replay.env["GITHUB_API_URL"] = api.url
        with pytest.raises(
            AwaitingReview, match=r"promote-prod\.yml/promote-prod waits for a review"
        ):
            replay.run("promote-prod.yml", "workflow_dispatch", inputs={"version": str(V2)})
        assert _tag(registry, replay, "prod") == digests[V1]  # nothing ran past the wait
        replay.approvals.reviewer = lambda workflow, job, env, names: approve
        results = replay.run("promote-prod.yml", "workflow_dispatch", inputs={"version": str(V2)})
    assert replay.approvals.reviewed == [
        ("promote-prod.yml", "promote-prod", "production", approve)
    ]
    if approve:
        assert _results(results)["commit"] == "success", _log(results)
        assert _tag(registry, replay, "prod") == digests[V2]
        assert remote.log()[0] == f"release(prod): version {V2}"
    else:
        assert _results(results) == {
            "preflight": "success",
            "promote-prod": "failure",
            "propose-prod": "skipped",
            "commit": "skipped",
        }
        assert "rejected by a reviewer" in _log(results)
        assert _tag(registry, replay, "prod") == digests[V1]
        assert git(remote.bare, "rev-parse", "main") == before


def rp_all() -> list[str]:
    return sorted(p.name for p in rp.WORKFLOWS.glob("*.yml"))
