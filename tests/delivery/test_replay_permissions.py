"""The replay enforcing what GitHub enforces on a job's token, with a private package.

Every replayed job gets its own GITHUB_TOKEN carrying exactly its `permissions:`
(tests/support/job_tokens.py). The registry runs GHCR's token flow (tests/support/
token_registry.py) and grants a token only its `packages:` level; the fake GitHub API answers
only the endpoints the token's permissions cover. Nothing is anonymous: the package is private.

Scenarios, each from the workflow files as committed:
- rollback.yml for dev: the preflight reads the environment through the API (`actions: read`),
  the rollback job moves the registry tag (`packages: write`), the commit job lands the record;
  then the same with the rollback job holding only `packages: read` (refused, tag unmoved) and
  the preflight without `actions: read` (refused by the API);
- ci.yml's serving-smoke on a pull request, once dev has a release in the private package: its
  `make run` pulls the released baseline with the job's `packages: read` token. The seed gives
  dev no data, so the run stops right after the pull (the pipeline itself is replayed in
  test_replay_flow.py); without `packages: read` the pull is refused, exit 3, naming the fix.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from core.paths import REPO_ROOT
from delivery.promotion import artifact_of
from store import release as rel
from store.model_store import open_store
from tests.support import replay as rp
from tests.support.git_remote import Remote, git
from tests.support.github import REVIEWED, FakeGitHub
from tests.support.job_tokens import JobTokens, bounded, effective
from tests.support.seed import write_committed_tree
from tests.support.stores import MODEL, fake_model
from tests.support.token_registry import TokenRegistry

REPOSITORY = "acme/private"
PACKAGE = f"{REPOSITORY}/models/{MODEL}"
VERSIONS = (1795000301, 1795000302)


@dataclass
class Private:
    replay: rp.Replay
    remote: Remote
    ghcr: TokenRegistry
    releases: list[rel.Release]


@pytest.fixture
def private(tmp_path: Path, monkeypatch):
    """origin seeded with the committed template, dev released twice into a private package."""
    ghcr = TokenRegistry(tmp_path / "ghcr")
    api = FakeGitHub(REVIEWED, repository=REPOSITORY)
    try:
        remote = Remote(tmp_path / "git")
        seed = remote.clone("template")
        write_committed_tree(REPO_ROOT, seed)
        # The person who set the repository up publishes with their own token.
        monkeypatch.setenv("MODEL_REGISTRY_USERNAME", "octocat")
        monkeypatch.setenv("MODEL_REGISTRY_PASSWORD", ghcr.tokens.issue("write", REPOSITORY))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
        store = open_store(ghcr.store_uri(f"{REPOSITORY}/models") + f"/{MODEL}")
        releases = []
        for version in VERSIONS:
            model = fake_model(tmp_path / "models" / str(version), version)
            art = store.publish(model, version, {"mlops.template.model.name": MODEL})
            releases.append(
                rel.Release(model_name=MODEL, version=version, digest=art.tree_digest, uri=art.ref)
            )
        store.adopt(artifact_of(releases[1]), "dev", None)  # dev's tag, as cd-dev leaves it
        rel.write(seed / "environments", rel.Record("dev", releases[1], [releases[0]]))
        overlay = seed / "environments" / "dev" / "config.yaml"
        data = yaml.safe_load(overlay.read_text())
        data["data"] = {**(data.get("data") or {}), "root": "data/none-in-this-replay"}
        overlay.write_text(yaml.safe_dump(data, sort_keys=False))
        git(seed, "add", "-A")
        git(seed, "commit", "--quiet", "-m", "the template, dev released twice")
        git(seed, "push", "--quiet", "origin", "HEAD:main")
        for name in ("MODEL_REGISTRY_USERNAME", "MODEL_REGISTRY_PASSWORD"):
            monkeypatch.delenv(name)
        tokens = JobTokens(REPOSITORY, ghcr.tokens)
        tokens.guard(api)
        env = {
            **remote.env,
            "VENV": str(REPO_ROOT / ".venv"),
            "PYTHONPATH": ".",
            "MODEL_REGISTRY": ghcr.host,
            "GITHUB_API_URL": api.url,
            "GH_STANDIN_ORIGIN": str(remote.bare),
            "DOCKER_CONFIG": str(tmp_path / "no-docker-config"),
        }
        env.pop("GITHUB_ACTIONS", None)
        replay = rp.Replay(
            origin=remote.bare,
            root=tmp_path / "runner",
            env=env,
            repository=REPOSITORY,
            job_tokens=tokens,
            not_replayed={
                "ci.yml/test": "make test, the whole suite",
                "ci.yml/init-check": rp.INIT_CHECK,
            },
        )
        yield Private(replay, remote, ghcr, releases)
    finally:
        api.close()
        ghcr.stop()


def _with_permissions(monkeypatch, workflow: str, job: str, permissions: dict) -> None:
    """The replay reads `workflow` with `job` declaring `permissions` instead (a planted edit)."""
    real = rp.load

    def load(name: str) -> dict:
        data = real(name)
        if name == workflow:
            data = copy.deepcopy(data)
            data["jobs"][job]["permissions"] = permissions
        return data

    monkeypatch.setattr(rp, "load", load)


def _log(results: dict[str, rp.JobResult]) -> str:
    return "\n".join(line for r in results.values() for line in r.log)


def _dev_tag(ghcr: TokenRegistry) -> str:
    reader = ghcr.tokens.issue("read", REPOSITORY)
    raw = ghcr.registry.skopeo(
        "inspect", "--raw", f"docker://{ghcr.host}/{PACKAGE}:dev", creds=f"x:{reader}"
    )
    assert raw.returncode == 0, raw.stderr
    return "sha256:" + hashlib.sha256(raw.stdout.encode()).hexdigest()


@pytest.mark.slow
def test_rollback_runs_with_exactly_the_jobs_permissions(private) -> None:
    replay = private.replay
    remote = private.remote
    ghcr = private.ghcr
    releases = private.releases
    results = replay.run("rollback.yml", "workflow_dispatch", inputs={"environment": "dev"})
    assert {job: r.result for job, r in results.items()} == {
        "preflight": "success",
        "rollback": "success",
        "propose-rollback": "skipped",  # prod in codeowners mode only
        "commit": "success",
    }, _log(results)
    assert _dev_tag(ghcr) == releases[0].uri.split("@", 1)[1]
    assert remote.log()[0] == f"release(dev): version {VERSIONS[0]}"
    minted = dict(replay.job_tokens.minted)
    assert minted["rollback.yml/preflight"] == {"contents": "read", "actions": "read"}
    assert minted["rollback.yml/rollback"] == {"contents": "read", "packages": "write"}
    # The called workflow's job holds what it declares, within what the calling job holds.
    assert minted["release-commit.yml/commit"] == {
        "contents": "write",
        "pull-requests": "write",
    }  # no `actions: write`: nothing dispatches CI since bot pull requests run it once approved
    assert replay.job_tokens.issued == {}  # every token ended with its job
    # The registry saw each job's token only for what it was granted, and no log holds a token.
    granted = [r["granted"] for r in ghcr.tokens.requests if r["user"] == "x-access-token"]
    assert any(g and "push" in g[0]["actions"] for g in granted)
    logs = _log(results) + (ghcr.registry.root / "registry.log").read_text()
    assert "ghs_" not in logs


@pytest.mark.slow
def test_a_job_without_packages_write_cannot_move_the_tag(private, monkeypatch) -> None:
    replay = private.replay
    remote = private.remote
    ghcr = private.ghcr
    before = _dev_tag(ghcr)
    _with_permissions(
        monkeypatch, "rollback.yml", "rollback", {"contents": "read", "packages": "read"}
    )
    results = replay.run("rollback.yml", "workflow_dispatch", inputs={"environment": "dev"})
    assert results["rollback"].result == "failure"
    assert results["commit"].result == "skipped"
    log = "\n".join(results["rollback"].log)
    assert f"refused access to {PACKAGE}" in log and "to push" in log
    assert "`permissions: packages: write`" in log
    assert _dev_tag(ghcr) == before
    assert remote.log()[0] == "the template, dev released twice"


@pytest.mark.slow
def test_the_api_refuses_a_job_without_the_permission_its_call_needs(private, monkeypatch) -> None:
    replay = private.replay
    remote = private.remote
    _with_permissions(monkeypatch, "rollback.yml", "preflight", {"contents": "read"})
    results = replay.run("rollback.yml", "workflow_dispatch", inputs={"environment": "dev"})
    assert results["preflight"].result == "failure", _log(results)
    assert results["rollback"].result == "skipped"
    assert remote.log()[0] == "the template, dev released twice"


def _serving_smoke(replay: rp.Replay) -> rp.JobResult:
    results = replay.run(
        "ci.yml", "pull_request", payload={"pull_request": {"number": 7}}, ref="refs/heads/main"
    )
    assert results["pipeline"].result == "skipped"
    return results["serving-smoke"]


@pytest.mark.slow
def test_serving_smoke_pulls_the_private_baseline_with_packages_read(private) -> None:
    replay = private.replay
    job = _serving_smoke(replay)
    log = "\n".join(job.log)
    assert "refused access" not in log
    # The pull happened (the baseline is laid out for the Evaluator), then the run stopped at
    # the data this replay withholds.
    assert "holds no span" in log or "data.root" in log, log[-3000:]
    assert job.workspace is not None
    pulled = list(job.workspace.glob("build/dev/baseline/*/*/saved_model.pb"))
    assert len(pulled) == 1, sorted(str(p) for p in job.workspace.glob("build/dev/**"))[:40]
    assert dict(replay.job_tokens.minted)["ci.yml/serving-smoke"]["packages"] == "read"
    assert "ghs_" not in log


@pytest.mark.slow
def test_serving_smoke_without_packages_read_is_refused_naming_the_fix(
    private, monkeypatch
) -> None:
    replay = private.replay
    _with_permissions(monkeypatch, "ci.yml", "serving-smoke", {"contents": "read"})
    job = _serving_smoke(replay)
    log = "\n".join(job.log)
    assert job.result == "failure"
    assert f"refused access to {PACKAGE}" in log and "to pull" in log
    assert "`permissions: packages: read`" in log and '"Manage Actions access"' in log
    assert "holds no span" not in log  # stopped at the pull, before the pipeline


def test_a_called_workflows_job_never_holds_more_than_the_calling_job() -> None:
    caller = effective({"contents": "read", "packages": "read"})
    assert bounded(effective({"contents": "write", "packages": "write"}), caller) == caller
    assert bounded(effective({"contents": "read", "actions": "write"}), caller) == {
        "contents": "read"
    }
    assert effective(None) == {"contents": "read", "packages": "read"}  # restricted default
    assert effective("read-all")["packages"] == "read"
    assert effective({"packages": "none"}) == {}
    with pytest.raises(ValueError, match="administration"):
        effective({"administration": "read"})  # not a scope a GITHUB_TOKEN can hold
