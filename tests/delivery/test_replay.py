"""The workflows replayed on this machine (tests/support/replay.py): the evaluator and the
short scenarios.

Replayed here, each job in a fresh clone of a local bare `origin`, with the workflow files' own
`run:` steps: the prod dispatch refusals (wrong ref, a version that is not digits, an injection
attempt), the commit job landing a release through a person's concurrent push and opening the
promotion pull request through the recording `gh` stand-in, cd-staging skipping the bot's own
verdict commit, and rollback.yml against the local registry. The whole push -> ci -> cd-dev ->
staging -> prod -> rollback scenario is in tests/delivery/test_replay_flow.py (slow).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from tests.support import replay as rp
from tests.support.git_remote import Remote, git, write_release
from tests.support.repo import PACKAGES
from tests.support.seed import write_tracked_files

ALL = sorted(p.name for p in rp.WORKFLOWS.glob("*.yml"))
ACTIONS = sorted(p.parent.name for p in rp.LOCAL_ACTIONS.glob("*/action.yml"))


# --- the evaluator ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_the_evaluator_knows_every_expression_the_workflows_use(name: str, tmp_path: Path) -> None:
    scope = rp.Scope({k: rp.Lenient() for k in rp.KNOWN_CONTEXTS}, workspace=tmp_path)
    found = rp.expressions(rp.load(name))
    assert found
    for text in found:
        scope.evaluate(text)  # raises ExprError on anything unknown


@pytest.mark.parametrize("name", ACTIONS)
def test_the_evaluator_knows_every_expression_the_local_actions_use(
    name: str, tmp_path: Path
) -> None:
    scope = rp.Scope({k: rp.Lenient() for k in rp.KNOWN_CONTEXTS}, workspace=tmp_path)
    data = yaml.safe_load((rp.LOCAL_ACTIONS / name / "action.yml").read_text())
    found = rp.expressions(data)
    assert found
    for text in found:
        scope.evaluate(text)


@pytest.mark.parametrize(
    "text",
    [
        "fromJSON(inputs.x)",
        "strategy.job-total",
        "1 < 2",
        "format('{0}', 1)",
        "job.status",
        "github.event.x ~ 1",
    ],
)
def test_an_unknown_expression_fails_the_replay(text: str) -> None:
    scope = rp.Scope({k: rp.Lenient() for k in rp.KNOWN_CONTEXTS})
    with pytest.raises(rp.ExprError):
        scope.evaluate(text)


def test_the_evaluator_follows_githubs_semantics() -> None:
    scope = rp.Scope(
        {
            "vars": rp.Lenient({"PROD_APPROVAL": "CodeOwners"}),
            "steps": {"app": {"outputs": rp.Lenient()}},
            "github": {"token": "t"},
            "needs": {"deploy": {"outputs": {"gate": "failure"}}},
        }
    )
    assert scope.evaluate("vars.PROD_APPROVAL == 'codeowners' && 'prod' || ''") == "prod"
    assert scope.evaluate("vars.PROD_APPROVAL != 'codeowners' && 'prod' || ''") == ""
    assert scope.evaluate("steps.app.outputs.token || github.token") == "t"
    assert scope.template("${{ steps.app.outputs.token == '' }}") is True
    assert scope.evaluate("needs.deploy.outputs.gate == 'success' && 'staging' || ''") == ""
    assert scope.condition("vars.RELEASE_APP_ID != ''") is False
    scope.status = "failure"
    assert scope.condition("vars.PROD_APPROVAL != ''") is False  # implicit success()
    assert scope.condition("${{ !cancelled() && vars.PROD_APPROVAL != '' }}") is True
    assert scope.condition("always()") is True
    with pytest.raises(rp.ExprError, match="unknown property 'gates'"):
        scope.evaluate("needs.deploy.outputs.gates")


@pytest.mark.parametrize(
    ("name", "ref", "changed", "starts"),
    [
        ("ci.yml", "refs/heads/main", ["models/model.py"], True),
        ("ci.yml", "refs/heads/main", ["README.md", "docs/a/b.md"], False),
        (
            "ci.yml",
            "refs/heads/main",
            ["environments/dev/release.yaml", "environments/dev/manifests/x/deployment.yaml"],
            False,
        ),
        ("ci.yml", "refs/heads/feature", ["models/model.py"], False),
        ("cd-staging.yml", "refs/heads/main", ["environments/staging/release.yaml"], True),
        ("cd-staging.yml", "refs/heads/main", ["environments/dev/release.yaml"], False),
        ("ct.yml", "refs/heads/main", ["data/taxi/span-2/data.csv"], True),
        ("promote-prod.yml", "refs/heads/main", ["models/model.py"], False),
    ],
)
def test_which_push_starts_which_workflow(
    name: str, ref: str, changed: list[str], starts: bool
) -> None:
    assert rp.triggers(name, "push", ref, changed) is starts


def test_the_seeded_packages_hold_everything_the_cli_imports(tmp_path: Path) -> None:
    """Jobs import their clone's code (PYTHONPATH=.), but the editable install would quietly
    supply a package the seed lacks from this checkout; this catches that."""
    for package in PACKAGES:
        shutil.copytree(
            REPO_ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    probe = "\n".join(
        [
            "import sys, mlops.main",
            "files = [getattr(m, '__file__', None) or '' for m in list(sys.modules.values())]",
            "print(sorted({f for f in files if f.startswith(sys.argv[1])",
            "              and not f.startswith(sys.prefix)}))",
        ]
    )
    found = subprocess.run(
        [sys.executable, "-c", probe, f"{REPO_ROOT}{os.sep}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": "."},
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "[]", f"imported from the checkout, not the seed: {found.stdout}"


# --- local composite actions ------------------------------------------------------------------

PROBE = """
name: probe
description: a composite action the replay runs in place
inputs:
  flag:
    description: which branch runs
    default: "false"
runs:
  using: composite
  steps:
    - if: inputs.flag == 'true'
      shell: bash
      run: echo on > flag.txt
    - if: inputs.flag != 'true'
      shell: bash
      run: echo off > flag.txt
    - uses: actions/cache/restore@5a3ec84eff668545956fd18022155c47e93e2684
      with:
        key: k-${{ runner.os }}
        path: x
    - shell: bash
      run: echo "$GREETING" > greeting.txt; test "$FAIL" != 1
      env:
        FAIL: ${{ inputs.flag == 'fail' && '1' || '0' }}
    - shell: bash
      run: touch after-a-failure.txt
"""


def _probe(tmp_path: Path, action: str = PROBE) -> tuple[rp.Replay, rp.Scope, Path, dict]:
    workspace = tmp_path / "workspace"
    (workspace / ".github" / "actions" / "probe").mkdir(parents=True)
    (workspace / ".github" / "actions" / "probe" / "action.yml").write_text(action)
    github = {"ref": "refs/heads/main", "sha": "0" * 40, "run_id": "5", "event_name": "push"}
    scope = rp.Scope({"github": github, "runner": {"os": "Linux"}}, workspace=workspace)
    replay = rp.Replay(origin=tmp_path, root=tmp_path, env=dict(os.environ))
    return replay, scope, workspace, github


@pytest.mark.parametrize(("given", "expected"), [({"flag": True}, "on"), ({}, "off")])
def test_a_local_composite_action_runs_its_steps_in_place(
    tmp_path: Path, given: dict, expected: str
) -> None:
    replay, scope, workspace, github = _probe(tmp_path)
    ok, _, log = replay._composite(
        "./.github/actions/probe", given, scope, workspace, github, {"GREETING": "hi"}
    )
    assert ok, log
    assert (workspace / "flag.txt").read_text().strip() == expected  # inputs, as strings
    assert (workspace / "greeting.txt").read_text().strip() == "hi"  # the calling step's env
    assert (workspace / "after-a-failure.txt").exists()


def test_a_failing_step_of_a_composite_action_fails_it_and_skips_the_rest(tmp_path: Path) -> None:
    replay, scope, workspace, github = _probe(tmp_path)
    ok, _, log = replay._composite(
        "./.github/actions/probe", {"flag": "fail"}, scope, workspace, github, {}
    )
    assert not ok, log
    assert not (workspace / "after-a-failure.txt").exists()


@pytest.mark.parametrize(
    ("given", "action", "message"),
    [
        ({"flgs": "true"}, PROBE, "inputs not declared by the action: \\['flgs'\\]"),
        (
            {},
            PROBE.replace(
                "shell: bash\n      run: echo on", "shell: sh\n      run: echo on"
            ).replace("inputs.flag == 'true'", "true"),
            "shell 'sh'",
        ),
        ({}, PROBE.replace("using: composite", "using: node20"), "only composite actions"),
        ({}, PROBE.replace("inputs.flag == 'true'", "inputs.flg == 'true'"), "unknown property"),
    ],
)
def test_what_the_replay_does_not_know_in_a_composite_action_raises(
    tmp_path: Path, given: dict, action: str, message: str
) -> None:
    replay, scope, workspace, github = _probe(tmp_path, action)
    with pytest.raises(rp.ExprError, match=message):
        replay._composite("./.github/actions/probe", given, scope, workspace, github, {})


def test_a_composite_action_missing_from_the_checkout_fails_the_step(tmp_path: Path) -> None:
    replay, scope, workspace, github = _probe(tmp_path)
    ok, _, log = replay._composite("./.github/actions/setup", {}, scope, workspace, github, {})
    assert not ok and "no action.yml in the job's workspace" in log


# --- scenarios --------------------------------------------------------------------------------


@pytest.fixture
def machine(tmp_path: Path) -> tuple[rp.Replay, Remote]:
    """origin holds this worktree's workflows, Makefile and tools (one commit): the files
    `git ls-files` lists there, never an untracked one."""
    remote = Remote(tmp_path / "git")
    seed = remote.clone("template")
    write_tracked_files(
        REPO_ROOT,
        seed,
        (
            "Makefile",
            "pyproject.toml",
            "requirements.lock",
            "requirements.overrides",
            ".github",
            "tools/release-git.sh",
            *PACKAGES,  # all of them: `mlops` imports every stage its commands compose
            "environments",
            "infra",
        ),
    )
    (seed / "tools" / "release-git.sh").chmod(0o755)
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "the template")
    git(seed, "push", "--quiet", "origin", "HEAD:main")
    env = {
        **remote.env,
        "VENV": str(REPO_ROOT / ".venv"),
        "PYTHONPATH": ".",
    }  # each job imports its own clone's code
    env.pop("GITHUB_ACTIONS", None)
    replay = rp.Replay(origin=remote.bare, root=tmp_path / "runner", env=env)
    return replay, remote


@pytest.mark.slow
def test_a_prod_dispatch_from_another_branch_is_refused(machine) -> None:
    replay, remote = machine
    work = remote.clone("feature")
    git(work, "switch", "--quiet", "-c", "feature")
    git(work, "push", "--quiet", "origin", "feature")
    main_before = git(remote.bare, "rev-parse", "main")
    results = replay.run(
        "promote-prod.yml",
        "workflow_dispatch",
        ref="refs/heads/feature",
        inputs={"version": "1795000001"},
    )
    assert results["preflight"].result == "failure"
    log = "\n".join(results["preflight"].log)
    assert "runs only from main; it was dispatched from refs/heads/feature" in log
    assert results["promote-prod"].result == "skipped" and results["commit"].result == "skipped"
    assert git(remote.bare, "rev-parse", "main") == main_before


@pytest.mark.parametrize("version", ["1.2", "$(shell touch {pwned})", "1795000001; touch {pwned}"])
@pytest.mark.slow
def test_a_prod_dispatch_with_a_bad_version_is_refused(
    machine, tmp_path: Path, version: str
) -> None:
    replay, _ = machine
    pwned = tmp_path / "pwned"
    results = replay.run(
        "promote-prod.yml", "workflow_dispatch", inputs={"version": version.format(pwned=pwned)}
    )
    assert results["preflight"].result == "failure"
    assert "VERSION must be a model version (digits only" in results["preflight"].log[1]
    assert results["promote-prod"].result == "skipped"
    assert not pwned.exists()


@pytest.mark.slow
def test_cd_staging_skips_the_bots_own_verdict_commit(machine) -> None:
    replay, _ = machine
    results = replay.run(
        "cd-staging.yml",
        "push",
        payload={"head_commit": {"message": "release(staging): version 7"}},
    )
    assert {job: r.result for job, r in results.items()} == {
        "verify-staging": "skipped",
        "commit": "skipped",
    }


def test_the_commit_job_lands_the_release_through_a_persons_push_and_opens_the_pr(
    machine, tmp_path: Path
) -> None:
    """release-commit.yml as deploy-dev calls it, after the read-only job bundled dev's release
    and staging's promotion: a person pushes to main between the job's checkout and its push."""
    replay, remote = machine
    build = tmp_path / "read-only-job"
    write_release(build, "dev", 1795000101)
    write_release(build, "staging", 1795000101)
    (build / "build").mkdir()
    (build / "build" / "promotion-staging.md").write_text("Promotes version 1795000101\n")
    github = {
        "event_name": "workflow_run",
        "event": {},
        "ref": "refs/heads/main",
        "sha": git(remote.bare, "rev-parse", "main"),
        "run_id": "77",
        "repository": "acme/taxi",
        "token": "ghs_replay",
    }
    bundle = replay.root / "artifacts" / "77" / "release"
    for env in ("dev", "staging"):
        out = remote.run(build, "bundle", env, str(bundle))
        assert out.returncode == 0, out.stderr
    # The person's push happens the first time the bot's git pushes (a `git` shim on PATH).
    person = remote.clone("person")
    shim = tmp_path / "shim"
    shim.mkdir()
    real_git = "/usr/bin/git" if Path("/usr/bin/git").exists() else "git"
    (shim / "git").write_text(
        f'#!/bin/sh\ncase " $* " in *" push "*) ;; *) exec {real_git} "$@";; esac\n'
        f"if [ ! -e {tmp_path}/raced ]; then touch "
        f"{tmp_path}/raced; (cd {person} && {real_git} commit -q --allow-empty -m person && "
        f'{real_git} push -q origin HEAD:main); fi\nexec {real_git} "$@"\n'
    )
    (shim / "git").chmod(0o755)
    replay.env["PATH"] = f"{shim}{os.pathsep}{replay.env['PATH']}"
    results = replay._workflow(
        "release-commit.yml",
        github,
        replay._inputs(
            rp.load("release-commit.yml")["on"]["workflow_call"]["inputs"],
            {"environment": "dev", "pr-from": "dev", "pr-to": "staging"},
        ),
        rp.Lenient(),
    )
    job = results["commit"]
    assert job.result == "success", "\n".join(job.log)
    assert remote.log()[:2] == ["release(dev): version 1795000101", "person"]
    assert "version: 1795000101" in remote.show("environments/dev/release.yaml")
    assert remote.log("promote/staging")[0] == "promote(staging): version 1795000101 from dev"
    calls = [c["argv"] for c in remote.gh()["calls"]]
    assert not any(c[0] == "workflow" for c in calls)  # the PR's own CI, approved, not dispatched
    assert remote.gh()["prs"]["promote/staging"]["body"] == "Promotes version 1795000101\n"
    # The job read only its own workspace and the run's artifact folder.
    assert job.workspace and job.workspace.parent.name == "run-77"


@pytest.mark.slow
def test_rollback_replayed_end_to_end_through_the_commit_job(
    machine, tmp_path: Path, registry
) -> None:
    """rollback.yml from dispatch to main: preflight against a fake GitHub API, the read-only
    rollback job, the artifact hand-off, and the commit job pushing to origin. As on GitHub
    (GITHUB_ACTIONS=true), dev's store is the registry: the session's local one."""
    from store import release as rel
    from store.model_store import open_store
    from tests.support.github import REVIEWED, FakeGitHub
    from tests.support.stores import fake_model

    replay, remote = machine
    replay.repository = f"acme/rollback{os.getpid()}"
    replay.env["MODEL_REGISTRY"] = registry.host
    store = open_store(registry.store_uri(f"{replay.repository}/models"))
    releases = []
    for version in (1795000201, 1795000202):
        model = fake_model(tmp_path / "store" / str(version), version)
        art = store.publish(model, version, {"mlops.template.model.name": "taxi_tips"})
        releases.append(
            rel.Release(
                model_name="taxi_tips", version=version, digest=art.tree_digest, uri=art.ref
            )
        )
    work = remote.clone("seed-records")
    rel.write(work / "environments", rel.Record("dev", releases[1], [releases[0]]))
    git(work, "add", "-A")
    git(work, "commit", "--quiet", "-m", "release(dev): version 1795000202")
    git(work, "push", "--quiet", "origin", "HEAD:main")
    with FakeGitHub(REVIEWED, token="ghs_replay", repository=replay.repository) as api:
        replay.env["GITHUB_API_URL"] = api.url
        results = replay.run("rollback.yml", "workflow_dispatch", inputs={"environment": "dev"})
    assert {job: r.result for job, r in results.items()} == {
        "preflight": "success",
        "rollback": "success",
        "propose-rollback": "skipped",  # environment reviewers: no pull request
        "commit": "success",
    }, "\n".join(line for r in results.values() for line in r.log)
    assert remote.log()[0] == "release(dev): version 1795000201"
    # The rollback job set itself up through the shared composite action, run in place.
    setup = "\n".join(results["rollback"].log)
    assert "./.github/actions/setup: composite action" in setup
    assert "Install the lock into .venv -> success" in setup
    on_main = remote.show("environments/dev/release.yaml")
    assert on_main.index("version: 1795000201") < on_main.index("history:")
    # Each job ran in its own clone; the commit job got the release only through the artifact.
    spaces = {r.workspace for r in results.values() if r.workspace}
    assert len(spaces) == 2
