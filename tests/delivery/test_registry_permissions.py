"""Every workflow step that touches the model registry can log in to a private package.

A private GHCR package answers only a token: the job must hold `packages: read` (pull) or
`packages: write` (push, tag, delete), and the step must pass GITHUB_TOKEN to make, since the
store logs in to GHCR with it. The replay enforces the same at run time
(tests/delivery/test_replay_permissions.py); this reads the files, for every workflow at once.
"""

from __future__ import annotations

import re

import pytest
import yaml

from core.paths import REPO_ROOT

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
ALL = sorted(p.name for p in WORKFLOWS.glob("*.yml"))
# make targets that pull from the registry (a released baseline, a candidate, a release) ...
READS = {"run", "candidate-loadtest", "gate-loadtest", "ct-check", "promotion-prepare", "gc"}
# ... and those that push, move a tag or delete: `run` publishes only in train.yml's job.
WRITES = {"promote", "store-sync", "rollback", "gc-apply"}
LEVEL = {None: 0, "none": 0, "read": 1, "write": 2}


def _target(run: str) -> str:
    match = re.match(r"make\s+([\w-]+)", run.strip())
    return match.group(1) if match else ""


def _registry_steps():
    for name in ALL:
        data = yaml.safe_load((WORKFLOWS / name).read_text())
        for job_id, job in data["jobs"].items():
            for step in job.get("steps") or []:
                target = _target(step.get("run", ""))
                if target in READS | WRITES:
                    yield name, job_id, job, step, target


def test_the_registry_steps_are_found() -> None:
    found = {(name, job_id) for name, job_id, *_ in _registry_steps()}
    assert ("ci.yml", "serving-smoke") in found and ("train.yml", "train") in found


@pytest.mark.parametrize("where", sorted({f"{n}/{j}" for n, j, *_ in _registry_steps()}))
def test_a_job_touching_the_registry_declares_packages_and_passes_the_token(where: str) -> None:
    for name, job_id, job, step, target in _registry_steps():
        if f"{name}/{job_id}" != where:
            continue
        needed = 2 if target in WRITES or (name == "train.yml" and target == "run") else 1
        held = LEVEL[(job.get("permissions") or {}).get("packages")]
        assert held >= needed, (
            f"{where}: `make {target}` needs `packages: {'write' if needed == 2 else 'read'}` "
            f"for a private package; the job holds {'read' if held else 'none'}"
        )
        token = (step.get("env") or {}).get("GITHUB_TOKEN", "")
        assert token.replace(" ", "") == "${{github.token}}", (
            f"{where}: `make {target}` must get GITHUB_TOKEN: ${{{{ github.token }}}} to log in"
        )


def test_a_scheduled_workflow_deletes_what_no_release_needs() -> None:
    """Retention runs by itself: a schedule, `make gc-apply` (mlops gc --apply), packages: write."""
    scheduled = []
    for name, job_id, job, step, target in _registry_steps():
        data = yaml.safe_load((WORKFLOWS / name).read_text())
        triggers = data.get("on", data.get(True)) or {}
        if target == "gc-apply" and "schedule" in triggers:
            scheduled.append(f"{name}/{job_id}")
            assert (job.get("permissions") or {}).get("packages") == "write"
            assert "schedule" in step.get("if", "")
    assert scheduled, "no scheduled workflow runs `make gc-apply`"
    makefile = (REPO_ROOT / "Makefile").read_text()
    rule = re.search(r"^gc-apply:.*\n\t(.*)$", makefile, re.M)
    assert rule and rule.group(1).strip() == '$(MLOPS) gc --env "$$ENV" --apply'
