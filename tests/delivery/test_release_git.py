"""tools/release-git.sh against real Git: a local bare repository is `origin`.

The writers run the script exactly as the commit jobs do. `gh` is a recording stand-in on PATH
(tests/support/gh_standin.py), so the pull-request calls and their title and body are checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.git_remote import Remote, git, write_release


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def test_version_is_the_current_release_not_a_history_entry(remote: Remote) -> None:
    work = remote.clone("work")
    write_release(work, "staging", 1795000002, previous=1795000001)
    text = (work / "environments" / "staging" / "release.yaml").read_text()
    assert text.index("1795000002") < text.index("1795000001")  # current comes first
    out = remote.run(work, "version", "staging")
    assert out.returncode == 0 and out.stdout.strip() == "1795000002"
    # History written first must not fool it: only `current:`'s own version counts.
    path = work / "environments" / "staging" / "release.yaml"
    body = text.split("history:")[1]
    path.write_text("environment: staging\nhistory:" + body + "current:\n  version: 7\n")
    assert remote.run(work, "version", "staging").stdout.strip() == "7"


def test_version_of_a_missing_or_broken_record_names_the_file(remote: Remote) -> None:
    work = remote.clone("work")
    out = remote.run(work, "version", "prod")
    assert out.returncode == 1 and "environments/prod/release.yaml: no release record" in out.stderr
    (work / "environments" / "prod" / "release.yaml").write_text("current:\n  version: x\n")
    out = remote.run(work, "version", "prod")
    assert out.returncode == 1 and "no 'current.version'" in out.stderr
    out = remote.run(work, "version", "../etc")
    assert out.returncode == 2 and "not an environment name" in out.stderr


def test_commit_lands_only_the_environments_folder_and_leaves_the_worktree_alone(
    remote: Remote,
) -> None:
    work = remote.clone("work")
    write_release(work, "dev", 1795000001)
    (work / "README.md").write_text("a person's unfinished edit\n")
    (work / "environments" / "dev" / "config.yaml").write_text("# edited, not a release\n")
    head = git(work, "rev-parse", "HEAD")
    out = remote.run(work, "commit", "dev")
    assert out.returncode == 0, out.stderr
    assert remote.log()[0] == "release(dev): version 1795000001"
    changed = git(remote.bare, "show", "--name-only", "--format=", "main").splitlines()
    assert changed == [
        "environments/dev/manifests/deployment.yaml",
        "environments/dev/release.yaml",
    ]
    assert git(work, "rev-parse", "HEAD") == head  # the person's checkout did not move
    assert (work / "README.md").read_text() == "a person's unfinished edit\n"
    # Nothing new: exit 0, no empty commit.
    again = remote.run(work, "commit", "dev")
    assert again.returncode == 0 and "nothing to commit" in again.stdout
    assert len(remote.log()) == 2


def test_commit_from_a_bundle_replays_onto_the_newest_main(remote: Remote) -> None:
    """The commit job's checkout is older than main; the bundle still lands on top of main."""
    job = remote.clone("job")  # checked out before main moved
    human = remote.clone("human")
    (human / "README.md").write_text("changed by a person\n")
    git(human, "commit", "--quiet", "-am", "docs")
    git(human, "push", "--quiet", "origin", "HEAD:main")
    build = remote.root / "build-job"  # what the read-only job produced
    write_release(build, "staging", 1795000005)
    bundled = remote.run(build, "bundle", "staging", str(remote.root / "bundle"))
    assert bundled.returncode == 0, bundled.stderr
    out = remote.run(job, "commit", "staging", str(remote.root / "bundle"))
    assert out.returncode == 0, out.stderr
    assert remote.log()[:2] == ["release(staging): version 1795000005", "docs"]
    assert remote.show("README.md") == "changed by a person"


def test_two_concurrent_writers_both_land(remote: Remote) -> None:
    writers = []
    for env, version in (("dev", 1795000011), ("staging", 1795000012), ("prod", 1795000013)):
        clone = remote.clone(f"w-{env}")
        write_release(clone, env, version)
        writers.append((env, version, clone))
    procs = [remote.start(clone, "commit", env) for env, _, clone in writers]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    for env, version, _ in writers:
        assert f"release({env}): version {version}" in remote.log()
        assert f"version: {version}" in remote.show(f"environments/{env}/release.yaml")
    assert len(remote.log()) == 4  # history is linear: no merges, nothing lost


def test_a_push_that_loses_the_race_is_retried_on_the_new_tip(remote: Remote) -> None:
    """A person pushes between the bot's fetch and its push: the bot's push is rejected once,
    then replayed on the new main; both commits are on main."""
    bot = remote.clone("bot")
    human = remote.clone("human")
    write_release(bot, "dev", 1795000021)
    hook = bot / ".git" / "hooks" / "pre-push"  # runs after the bot fetched and committed
    hook.write_text(
        f"#!/bin/sh\nif [ ! -e {remote.root}/raced ]; then touch {remote.root}/raced;"
        f" cd {human} && echo x >> README.md && git commit -qam human &&"
        f" git push -q origin HEAD:main; fi\n"
    )
    hook.chmod(0o755)
    out = remote.run(bot, "commit", "dev")
    assert out.returncode == 0, out.stderr
    assert "moved; retrying" in out.stderr and "attempt 2" in out.stdout
    assert remote.log()[:2] == ["release(dev): version 1795000021", "human"]


def test_commit_gives_up_loudly_after_its_retries(remote: Remote) -> None:
    bot = remote.clone("bot")
    write_release(bot, "dev", 1795000031)
    hook = bot / ".git" / "hooks" / "pre-push"
    hook.write_text("#!/bin/sh\nexit 1\n")  # every push is refused
    hook.chmod(0o755)
    out = remote.run(bot, "commit", "dev", RETRIES="3")
    assert out.returncode == 1
    assert "rejected 3 times" in out.stderr and "Re-run the job" in out.stderr
    assert remote.log() == ["initial"]


def test_promotion_pr_starts_from_main_and_a_rerun_updates_title_and_body(remote: Remote) -> None:
    job = remote.clone("job")  # stale: main moves after this clone
    human = remote.clone("human")
    (human / "README.md").write_text("newer main\n")
    git(human, "commit", "--quiet", "-am", "newer main")
    git(human, "push", "--quiet", "origin", "HEAD:main")
    write_release(job, "staging", 1795000041)
    (job / "build").mkdir()
    (job / "build" / "promotion-staging.md").write_text("body for 1795000041\n")

    out = remote.run(job, "pr", "dev", "staging")
    assert out.returncode == 0, out.stderr
    branch = "promote/staging"
    assert git(remote.bare, "rev-parse", f"{branch}~1") == git(remote.bare, "rev-parse", "main")
    assert remote.log(branch)[0] == "promote(staging): version 1795000041 from dev"
    pr = remote.gh()["prs"][branch]
    assert pr == {
        "state": "OPEN",
        "base": "main",
        "body": "body for 1795000041\n",
        "title": "promote(staging): version 1795000041 from dev",
    }
    # No CI dispatch (issue 18, finding 5): the pull request's own run, approved by a maintainer,
    # is what its required checks see; the job says so instead.
    assert [c["argv"][:2] for c in remote.gh()["calls"]] == [["pr", "view"], ["pr", "create"]]
    assert "'Approve workflows to run'" in out.stdout

    write_release(job, "staging", 1795000042, previous=1795000041)
    (job / "build" / "promotion-staging.md").write_text("body for 1795000042\n")
    out = remote.run(job, "pr", "dev", "staging", APPROVE_CI="false")  # a GitHub App's PR
    assert out.returncode == 0, out.stderr
    calls = [c["argv"] for c in remote.gh()["calls"]]
    assert calls[-1][:3] == ["pr", "edit", branch]  # no second pull request
    assert not any(c[0] == "workflow" for c in calls)
    assert "Approve workflows" not in out.stdout
    pr = remote.gh()["prs"][branch]
    assert pr["title"] == "promote(staging): version 1795000042 from dev"
    assert pr["body"] == "body for 1795000042\n"
    assert len(remote.log(branch)) == 3  # initial, newer main, one promotion


def test_promotion_pr_is_not_opened_when_main_already_holds_the_release(remote: Remote) -> None:
    work = remote.clone("work")
    write_release(work, "staging", 1795000051)
    assert remote.run(work, "commit", "staging").returncode == 0
    out = remote.run(work, "pr", "dev", "staging")
    assert out.returncode == 0 and "no pull request needed" in out.stdout
    assert remote.gh()["calls"] == []
