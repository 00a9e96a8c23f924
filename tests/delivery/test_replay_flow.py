"""The whole GitHub flow replayed from the workflow files: push -> ci -> cd-dev -> merge the
promotion pull request -> cd-staging -> promote-prod with the version -> rollback.

Every job runs the workflow's own `run:` steps in order (tests/support/replay.py), each in a
fresh clone of a local bare `origin` whose workspace is deleted when the job ends; a real OCI
registry on loopback stands in for GHCR (MODEL_REGISTRY) with GHCR's token flow and a private
package, each job's token holding exactly its `permissions:` (tests/support/job_tokens.py, the
fake GitHub API checks them too); the recording `gh` stand-in opens and
merges the promotion pull request against the bare repository, and a fake GitHub API answers the
prod preflight. The seed commit carries test-sized overlays, as a person would commit them: dev
reads a 3000-row sample committed under data/replay and trains 300 steps; load tests last seconds
on free ports. One pipeline run (ci's `train` job) feeds the whole replay.

What differs from GitHub, and why:
- `BACKEND=docker` in a `run:` step is rewritten to `BACKEND=local` (the TF Serving stand-in):
  this machine has no Docker. The rewrite is the replay's only change to a step's text, and the
  test fails if no step needed it.
- ci's `test` job (`make test`, the whole suite, which contains this test) is not replayed.
- The CI run of the bot's promote/staging pull request (held until approved, then the whole
  suite and a training run) is not replayed; tests/delivery/test_replay_approval.py replays the
  hold and the approval.
- The `production` environment has required reviewers (the fake API's REVIEWED): the prod job
  waits until this test approves it.
- The rollback needs a previous release: a second candidate (the first model plus one asset) is
  published through the store API, as the Pusher publishes, in place of a second training run,
  and deployed to dev by a second replayed cd-dev run.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from delivery import prod_gate
from store.model_store import Artifact
from tests.support import replay as rp
from tests.support.candidates import publish_second_candidate
from tests.support.git_remote import Remote, git, render_and_push
from tests.support.github import REVIEWED, FakeGitHub
from tests.support.job_tokens import JobTokens
from tests.support.repo import write_sample
from tests.support.seed import write_committed_tree
from tests.support.token_registry import TokenRegistry

pytestmark = pytest.mark.slow

REPO = REPO_ROOT
ALL = sorted(p.name for p in rp.WORKFLOWS.glob("*.yml"))
REPOSITORY = "acme/replay"
MODEL_REPO = f"{REPOSITORY}/models/taxi_tips"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _seed(remote: Remote) -> None:
    """The template as committed (HEAD, no releases), plus test-sized overlays and the sample."""
    seed = remote.clone("person")
    # Committed files only: a `make demo` in this checkout leaves an untracked dev release whose
    # model is in this machine's build/, which would become the flow's baseline.
    write_committed_tree(REPO, seed)
    write_sample(seed / "data" / "replay", rows=3000)
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "The template, with a 3000-row sample")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    quick = {
        "users": 2,
        "spawn_rate": 2,
        "run_seconds": 3,
        "warmup_seconds": 1,
        "rows": 50,
        "rows_file": "data/taxi/span-1/data.csv",
        "slo": {"p95_ms": 5000, "p99_ms": 10000, "max_failure_ratio": 0.0, "min_rps": 1},
    }
    for env in ("dev", "staging", "prod"):
        path = seed / "environments" / env / "config.yaml"
        data = yaml.safe_load(path.read_text())
        data.setdefault("serving", {}).update(rest_port=_free_port(), grpc_port=_free_port())
        data["loadtest"] = quick
        if env == "staging":
            # No Prometheus scrapes this replay's staging stand-in: skipping its shadow analysis
            # is the committed decision the analysis-passed rule asks for, visible in Git.
            data["rollout"] = {"strategy": "none"}
        if env == "dev":
            data["data"] = {"root": "data/replay"}
            data["training"] = {"train_steps": 300, "eval_steps": 50}
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    render_and_push(seed, remote.env, "Test-sized overlays")
    shutil.rmtree(seed)


def _ok(results: dict[str, rp.JobResult], expected: dict[str, str]) -> None:
    got = {job: r.result for job, r in results.items()}
    assert got == expected, "\n".join(line[-6000:] for r in results.values() for line in r.log)


def _started(remote: Remote) -> list[str]:
    """The workflows main's newest push starts (its `on:` filters, against the files it changed)."""
    changed = git(remote.bare, "diff", "--name-only", "main^1", "main").split()
    return [name for name in ALL if rp.triggers(name, "push", changed=changed)]


def _record(remote: Remote, env: str) -> dict:
    return yaml.safe_load(remote.show(f"environments/{env}/release.yaml"))


def test_push_to_prod_and_back_replayed_from_the_workflow_files(tmp_path: Path, ci_report) -> None:
    started = time.monotonic()
    remote = Remote(tmp_path / "git")
    _seed(remote)
    # A private package behind GHCR's token flow; each job's token holds its `permissions:`.
    registry = TokenRegistry(tmp_path / "ghcr")
    tokens = JobTokens(REPOSITORY, registry.tokens)
    api = FakeGitHub(REVIEWED, token="ghs_replay", repository=REPOSITORY)
    tokens.guard(api)
    env = {
        **remote.env,
        "VENV": str(REPO / ".venv"),
        "PYTHONPATH": ".",
        "MODEL_REGISTRY": registry.host,
        "GITHUB_API_URL": api.url,
        "GH_STANDIN_ORIGIN": str(remote.bare),
    }
    replay = rp.Replay(
        origin=remote.bare,
        root=tmp_path / "runner",
        env=env,
        repository=REPOSITORY,
        rewrites={"BACKEND=docker": "BACKEND=local"},
        not_replayed={
            "ci.yml/test": "make test, the whole suite, which contains this replay",
            "ci.yml/init-check": rp.INIT_CHECK,
        },
        fresh_runners=True,
        job_tokens=tokens,
    )
    replay.approvals.reviewers = {"production": prod_gate.reviewers_of(REVIEWED)}
    replay.approvals.reviewer = lambda workflow, job, environment, names: True
    try:
        tags = _flow(replay, remote, registry, tmp_path)
    finally:
        api.close()
        registry.stop()
    assert replay.unused_rewrites() == []
    assert [r[:2] for r in replay.approvals.reviewed] == [
        ("promote-prod.yml", "promote-prod"),  # the refused version: approved, then refused
        ("promote-prod.yml", "promote-prod"),
        ("rollback.yml", "rollback"),
    ]
    _no_job_read_another_jobs_workspace(replay, remote)
    took = time.monotonic() - started
    jobs = "\n".join(f"  {key}: {secs:.0f} s" for key, secs in replay.seconds.items())
    slowest = sorted(replay.step_seconds.items(), key=lambda item: -item[1])[:15]
    steps = "\n".join(f"  {secs:5.1f} s  {key.splitlines()[0][:110]}" for key, secs in slowest)
    ci_report(
        "replay of the GitHub flow",
        f"push -> ... -> rollback: {took:.0f} s wall time "
        f"({len(replay.workspaces)} jobs in fresh clones)\n{jobs}\nslowest steps:\n{steps}",
    )
    # Last, so that everything above is checked either way. Each environment's registry tag
    # must point at what main's record says (README, rule `tag-matches`). deploy-dev's
    # "Promote the same artifact to staging, for the pull request" moves the staging tag when
    # the pull request is opened, not when it is merged: after the second cd-dev run, staging's
    # tag names the unmerged candidate, and the next promotion to staging is refused.
    assert {env: seen for env, (seen, expected) in tags.items() if seen != expected} == {}, (
        f"registry tags differ from main's records: {tags}"
    )


def _flow(
    replay: rp.Replay, remote: Remote, registry, tmp_path: Path
) -> dict[str, tuple[str, str]]:
    """The scenario; returns each environment's (registry tag digest, record's digest)."""
    tested = git(remote.bare, "rev-parse", "main")
    # pipeline-image.yml builds the image with Docker, which the replay has not: its jobs are
    # checked by the workflow tests (tests/delivery/test_pipeline_image_workflow.py).
    assert _started(remote) == ["ci.yml", "pipeline-image.yml"]

    # push to main -> ci: the test job is this suite; the pipeline job trains once.
    _ok(
        replay.run("ci.yml", "push", payload={"head_commit": {"message": "template"}}),
        {
            "test": "success",
            "init-check": "success",
            "serving-smoke": "skipped",
            "pipeline": "success",
        },
    )
    ci_run = replay.last_run_id
    summary = json.loads(
        (replay.root / "artifacts" / ci_run / "run-summary" / "run_summary.json").read_text()
    )
    assert summary["pushed"] and summary["pushed_path"].startswith(
        f"oci://{registry.host}/{MODEL_REPO}@sha256:"
    )
    version, digest = int(summary["pushed_version"]), summary["pushed_path"].partition("@")[2]
    assert str(version) in registry.tags(MODEL_REPO)

    # Main moves on before cd-dev starts (a docs-only push, which starts no workflow): the
    # records must keep the commit ci tested, not the tip cd-dev runs at.
    person = remote.clone("person-docs")
    (person / "NOTES.md").write_text("a person's notes\n")
    git(person, "add", "-A")
    git(person, "commit", "--quiet", "-m", "docs: notes")
    git(person, "push", "--quiet", "origin", "HEAD:main")
    shutil.rmtree(person)
    assert _started(remote) == []

    # ci succeeded -> cd-dev deploys that candidate (never trains) and opens the promotion PR.
    _ok(_cd_dev(replay, ci_run, tested), {"deploy-dev": "success"})
    log = "\n".join(replay.logs[f"{replay.last_run_id}/deploy-dev.yml-deploy"])
    assert f"downloaded run-summary from run {ci_run}" in log
    assert remote.log()[0] == f"release(dev): version {version}"
    assert _started(remote) == []  # the bot's release commit starts no CI run
    dev = _record(remote, "dev")["current"]
    assert (dev["version"], dev["git_commit"]) == (version, tested), dev
    assert dev["uri"].partition("@")[2] == digest and dev["digest"] == summary["model_digest"]
    assert dev["loadtest"]["verdict"] == "PASS"
    gh = remote.gh()
    assert gh["prs"]["promote/staging"]["state"] == "OPEN"
    # The pull request's body: the headline figures and the report of the run that trained it.
    body = gh["prs"]["promote/staging"]["body"]
    assert f"| auc (gated) | {dev['metrics']['auc']:.4f} |" in body, body
    assert "| load test in dev | PASS: p95 " in body, body
    assert f"(https://github.com/{REPOSITORY}/actions/runs/{ci_run})" in body, body
    assert dev["report"] == f"https://github.com/{REPOSITORY}/actions/runs/{ci_run}"
    assert (replay.root / "artifacts" / ci_run / "run-report" / "report.html").exists()
    assert not any(c["argv"][0] == "workflow" for c in gh["calls"])  # nothing dispatched

    # A reviewer merges the pull request: its merge commit changes staging's record, which is
    # what starts cd-staging (its `paths:` filter).
    merged = subprocess.run(
        ["gh", "pr", "merge", "promote/staging", "--merge"],
        env=remote.env | {"GH_STANDIN_ORIGIN": str(remote.bare)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert merged.returncode == 0, merged.stderr
    changed = git(remote.bare, "diff", "--name-only", "main^1", "main").split()
    assert "environments/staging/release.yaml" in changed
    assert _started(remote) == ["cd-staging.yml"]
    message = git(remote.bare, "log", "-1", "--format=%B", "main")
    _ok(
        replay.run("cd-staging.yml", "push", payload={"head_commit": {"message": message}}),
        {"verify-staging": "success", "commit": "success"},
    )
    assert remote.log()[0] == f"release(staging): version {version}"
    staging = _record(remote, "staging")["current"]
    assert staging["loadtest"]["verdict"] == "PASS" and staging["version"] == version
    # The verdict commit starts cd-staging again, which skips itself.
    assert _started(remote) == ["cd-staging.yml"]
    verdict = git(remote.bare, "log", "-1", "--format=%B", "main")
    _ok(
        replay.run("cd-staging.yml", "push", payload={"head_commit": {"message": verdict}}),
        {"verify-staging": "skipped", "commit": "skipped"},
    )

    # promote-prod: a version that staging does not run is refused; the approved one ships.
    before = git(remote.bare, "rev-parse", "main")
    refused = replay.run(
        "promote-prod.yml", "workflow_dispatch", inputs={"version": str(version + 1)}
    )
    _ok(
        refused,
        {
            "preflight": "success",
            "promote-prod": "failure",
            "propose-prod": "skipped",  # environment reviewers: no pull request
            "commit": "skipped",
        },
    )
    assert "refused (expected-version)" in "\n".join(refused["promote-prod"].log)
    assert git(remote.bare, "rev-parse", "main") == before
    _ok(
        replay.run("promote-prod.yml", "workflow_dispatch", inputs={"version": str(version)}),
        {
            "preflight": "success",
            "promote-prod": "success",
            "propose-prod": "skipped",
            "commit": "success",
        },
    )
    assert remote.log()[0] == f"release(prod): version {version}"
    assert _record(remote, "prod")["current"]["promoted_from"] == "staging"
    # prod's record changed on main: cd-prod starts (with a GitHub App token; GITHUB_TOKEN's push
    # starts nothing). promote-prod moved the tag already: the sync moves nothing and verifies.
    assert _started(remote) == ["cd-prod.yml"]
    synced = replay.run("cd-prod.yml", "push", payload={"head_commit": {"message": "release"}})
    _ok(synced, {"sync-prod": "success"})
    assert "as its record says" in "\n".join(synced["sync-prod"].log)

    # A second candidate reaches dev; rollback.yml then restores the first.
    second = _second_candidate(replay, summary)
    _ok(_cd_dev(replay, second, tested), {"deploy-dev": "success"})
    assert _record(remote, "dev")["current"]["version"] == version + 1
    _ok(
        replay.run("rollback.yml", "workflow_dispatch", inputs={"environment": "dev"}),
        {
            "preflight": "success",
            "rollback": "success",
            "propose-rollback": "skipped",
            "commit": "success",
        },
    )
    assert _started(remote) == []

    # The records, the manifests, and the registry (read with skopeo) name one artifact.
    main = git(remote.bare, "log", "--first-parent", "--format=%s", "main").splitlines()
    assert main[:7] == [
        f"release(dev): version {version}",
        f"release(dev): version {version + 1}",
        f"release(prod): version {version}",
        f"release(staging): version {version}",
        "Merge pull request from promote/staging",
        f"release(dev): version {version}",
        "docs: notes",
    ]
    tags: dict[str, tuple[str, str]] = {}
    for env_name in ("dev", "staging", "prod"):
        current = _record(remote, env_name)["current"]
        assert (current["version"], current["digest"], current["git_commit"]) == (
            version,
            summary["model_digest"],
            tested,
        ), env_name
        assert current["uri"].partition("@")[2] == digest, env_name
        _, seen = registry.raw_manifest(f"{registry.host}/{MODEL_REPO}:{env_name}")
        tags[env_name] = (seen, digest)  # checked last, by the caller
        by_digest, bytes_digest = registry.raw_manifest(f"{registry.host}/{MODEL_REPO}@{digest}")
        assert bytes_digest == digest
        assert (
            by_digest["annotations"]["mlops.template.model.tree-digest"] == summary["model_digest"]
        )
        # prod (canary) runs its pods under an Argo Rollouts Rollout; dev and this replay's
        # staging (rollout.strategy none, see _seed) under a Deployment.
        workload = "rollout.yaml" if env_name == "prod" else "deployment.yaml"
        deployment = remote.show(f"environments/{env_name}/manifests/{workload}")
        assert f"{registry.host}/{MODEL_REPO}@{digest}" in deployment
    before_rollback = yaml.safe_load(remote.show("environments/dev/release.yaml", "main~1"))
    assert before_rollback["current"]["version"] == version + 1
    # The rolled-back release stays on record, marked as rolled back.
    (rolled_back,) = _record(remote, "dev")["history"]
    assert rolled_back["version"] == version + 1
    assert rolled_back["rolled_back_at"] and rolled_back["rolled_back_by"]
    assert set(registry.tags(MODEL_REPO)) >= {
        str(version),
        str(version + 1),
        "dev",
        "staging",
        "prod",
    }
    assert registry.raw_manifest(f"{registry.host}/{MODEL_REPO}:{version + 1}")[1] != digest
    return tags


def _cd_dev(replay: rp.Replay, run_id: str, tested: str) -> dict[str, rp.JobResult]:
    return replay.run(
        "cd-dev.yml",
        "workflow_run",
        payload={
            "workflow_run": {
                "id": run_id,
                "head_sha": tested,
                "conclusion": "success",
                "event": "push",
                "head_repository": {"full_name": REPOSITORY},
            }
        },
    )


def _second_candidate(replay: rp.Replay, summary: dict) -> str:
    """A stand-in training run under a new run id, in a fresh clone: the second candidate and the
    run summary that names it, uploaded as the run's artifact."""
    replay.runs += 1
    run_id = replay.last_run_id
    clone = replay.root / f"run-{run_id}" / "train"
    subprocess.run(["git", "clone", "--quiet", str(replay.origin), str(clone)], check=True)
    first = Artifact(
        int(summary["pushed_version"]), summary["model_digest"], summary["pushed_path"]
    )
    publish_second_candidate(
        clone,
        {
            **replay.env,
            "GITHUB_ACTIONS": "true",
            "GITHUB_REPOSITORY": REPOSITORY,
            **_trainer(replay),
        },
        first,
        replay.root / "artifacts" / run_id / "run-summary" / "run_summary.json",
    )
    shutil.rmtree(clone)
    return run_id


def _trainer(replay: rp.Replay) -> dict[str, str]:
    """The stand-in training job's login: train.yml's job holds `packages: write`."""
    if replay.job_tokens is None or replay.job_tokens.registry is None:
        return {}
    token = replay.job_tokens.registry.issue("write", REPOSITORY)
    return {"MODEL_REGISTRY_USERNAME": "x-access-token", "MODEL_REGISTRY_PASSWORD": token}


def _no_job_read_another_jobs_workspace(replay: rp.Replay, remote: Remote) -> None:
    """Every job ran in its own clone, gone when the job ended; no job's log, no artifact and
    nothing on main names another job's workspace."""
    spaces = replay.workspaces
    assert len(set(spaces.values())) == len(spaces) >= 10
    assert not any(path.exists() for path in spaces.values())
    pattern = re.compile(re.escape(str(replay.root)) + r"/run-\d+/[\w.-]+")

    def workspaces_in(text: str) -> set[Path]:
        """Workspaces a text names (a path cut short in a log counts as the one it starts)."""
        found: set[Path] = set()
        for match in pattern.findall(text):
            found |= {w for w in spaces.values() if str(w).startswith(match)} or {Path(match)}
        return found

    for key, lines in replay.logs.items():
        named = workspaces_in("\n".join(lines))
        assert named <= {spaces[key]}, f"{key} names {sorted(named - {spaces[key]})}"
    # An artifact a later job downloads names no workspace (it would point into a runner that
    # is gone); reports for people may name their own run's.
    downloaded = {
        (run, name)
        for lines in replay.logs.values()
        for name, run in re.findall(r"downloaded (\S+) from run (\d+)", "\n".join(lines))
    }
    assert {name for _, name in downloaded} == {"run-summary", "release"}
    for path in (replay.root / "artifacts").rglob("*"):
        if path.is_file():
            run, name = path.relative_to(replay.root / "artifacts").parts[:2]
            named = workspaces_in(path.read_text(errors="replace"))
            allowed = (
                set()
                if (run, name) in downloaded
                else {p for key, p in spaces.items() if key.startswith(f"{run}/")}
            )
            assert named <= allowed, f"{path} names {sorted(named - allowed)}"
    found = subprocess.run(
        ["git", "grep", "-l", "-F", str(replay.root), "main"],
        cwd=remote.bare,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 1 and found.stdout == "", found.stdout
