"""The GitHub Actions workflows, parsed: a later edit cannot silently remove a gate."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from delivery import workflow_lint
from mlops import config

WORKFLOWS = config.REPO_ROOT / ".github" / "workflows"
SHA = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
DEPLOYS = {"cd-dev.yml": "deploy-dev", "cd-staging.yml": "deploy-staging",
           "promote-prod.yml": "deploy-prod", "rollback.yml": "deploy-${{ inputs.environment }}"}


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads a bare `on` as true
    return data


def all_steps(data: dict):
    for job_id, job in data["jobs"].items():
        for step in job.get("steps", []):
            yield job_id, job, step


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_least_privilege_pins_and_make_only_steps(name: str) -> None:
    data = load(name)
    assert data["permissions"] == {"contents": "read"}, "top level must be read-only"
    assert "concurrency" in data
    for job_id, job, step in all_steps(data):
        if "uses" in step:
            assert SHA.match(step["uses"]), f"{name}/{job_id}: {step['uses']} is not SHA-pinned"
        if "run" in step:
            command = step["run"].strip()
            assert command.startswith("make "), f"{name}/{job_id}: '{command}' is not a make call"
            assert "${{" not in command, f"{name}/{job_id}: expression inside run:"
        if step.get("uses", "").startswith("actions/checkout@"):
            persisted = step.get("with", {}).get("persist-credentials")
            wants_write = job.get("permissions", {}).get("contents") == "write"
            assert persisted is wants_write, f"{name}/{job_id}"
    for job_id, job in data["jobs"].items():
        allowed = {"contents", "pull-requests", "actions"}
        assert set(job.get("permissions", {})) <= allowed, f"{name}/{job_id}"


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_dependencies_are_cached_and_only_ci_writes_the_cache(name: str) -> None:
    caches = [s["uses"].split("@")[0] for _, _, s in all_steps(load(name))
              if s.get("uses", "").startswith("actions/cache")]
    assert caches, f"{name} does not cache its dependencies"
    expected = "actions/cache" if name == "ci.yml" else "actions/cache/restore"
    assert set(caches) == {expected}, name


def test_ci_runs_the_tests_on_pushes_and_pull_requests() -> None:
    data = load("ci.yml")
    assert data["on"]["push"]["branches"] == ["main"]
    assert "pull_request" in data["on"] and "workflow_dispatch" in data["on"]
    runs = [s["run"] for _, _, s in all_steps(data) if "run" in s]
    assert "make test" in runs and "make compile" in runs
    assert any("BACKEND=docker" in r and "serve-and-loadtest" in r for r in runs)
    assert data["concurrency"]["cancel-in-progress"] is True


@pytest.mark.parametrize(("name", "group"), sorted(DEPLOYS.items()))
def test_one_deployment_at_a_time_per_environment(name: str, group: str) -> None:
    data = load(name)
    assert data["concurrency"] == {"group": group, "cancel-in-progress": False}


def test_dev_deploys_only_after_ci_passed_on_main() -> None:
    data = load("cd-dev.yml")
    trigger = data["on"]["workflow_run"]
    assert trigger == {"workflows": ["ci"], "types": ["completed"], "branches": ["main"]}
    job = data["jobs"]["deploy-dev"]
    assert "conclusion == 'success'" in job["if"] and "event == 'push'" in job["if"]
    assert job["environment"] == "dev"
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs.index("make promote TO=dev OK_IF_CURRENT=1") < runs.index(
        "make gate-loadtest ENV=dev BACKEND=docker") < runs.index(
        "make promotion-pr FROM=dev TO=staging")


def test_staging_is_verified_when_its_release_record_is_merged() -> None:
    data = load("cd-staging.yml")
    assert data["on"]["push"]["paths"] == ["environments/staging/release.yaml"]
    job = data["jobs"]["verify-staging"]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs[0] == "make render-check"
    assert any(r.startswith("make gate-loadtest ENV=staging") for r in runs)


@pytest.mark.parametrize("name", ["promote-prod.yml", "rollback.yml"])
def test_prod_changes_wait_for_the_production_environment(name: str) -> None:
    data = load(name)
    assert set(data["on"]) == {"workflow_dispatch"}
    for job in data["jobs"].values():
        assert job["environment"] == "production"


def test_prod_promotion_takes_the_approved_version_from_staging_only() -> None:
    data = load("promote-prod.yml")
    assert data["on"]["workflow_dispatch"]["inputs"]["version"]["required"] is True
    step = next(s for _, _, s in all_steps(data) if "promote" in s.get("run", ""))
    assert step["run"] == 'make promote FROM=staging TO=prod VERSION="$VERSION"'
    assert step["env"] == {"VERSION": "${{ inputs.version }}"}


def test_committed_workflows_pass_actionlint_shellcheck_and_zizmor() -> None:
    ok, report = workflow_lint.lint(WORKFLOWS)
    assert ok, report


def test_workflow_lint_catches_injection_and_unpinned_actions(tmp_path: Path) -> None:
    shutil.copy(WORKFLOWS / "ci.yml", tmp_path / "ci.yml")
    (tmp_path / "bad.yml").write_text(
        "name: bad\non: pull_request\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\" $UNQUOTED\n")
    ok, report = workflow_lint.lint(tmp_path)
    assert not ok
    assert "potentially untrusted" in report           # actionlint
    assert "SC2086" in report                           # shellcheck: unquoted variable
    assert "unpinned" in report.lower()                 # zizmor: unpinned action
