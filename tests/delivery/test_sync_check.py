"""`mlops sync --check`, cd-prod's verification after the promotion pull request merged: the
environment's tag names the record's digest and the artifact pulls intact, or it is refused."""

from __future__ import annotations

import pytest

from core.verdicts import Rule
from delivery.rules import PromotionRefused
from delivery.sync_check import check_synced
from store import release as rel
from tests.support.stores import Repo
from tools.local_registry import Registry


def _tag_to(registry: Registry, repo: Repo, tag: str, source_digest: str) -> None:
    """Move `tag` by hand, as someone with a write token could, outside `mlops`."""
    name = repo.delivery.cfg("dev").model_store_dir.split("/", 3)[3].lower()
    out = registry.skopeo(
        "copy",
        "--all",
        f"docker://{registry.host}/{name}@{source_digest}",
        f"docker://{registry.host}/{name}:{tag}",
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.slow
def test_check_refuses_until_sync_moved_the_tag_and_again_after_tampering(
    registry_repo: Repo, registry: Registry
) -> None:
    repo = registry_repo
    assert check_synced(repo.delivery, "staging") is None  # no release: nothing to check
    repo.push()
    first = repo.delivery.promote_to("dev")
    assert isinstance(first, rel.Record)
    repo.pass_loadtest("dev")
    merged = repo.delivery.promote_to("staging", "dev", defer_store=True)
    assert isinstance(merged, rel.Record)
    with pytest.raises(PromotionRefused, match=r"tag staging points at nothing") as refused:
        check_synced(repo.delivery, "staging")  # merged, not synced yet
    assert refused.value.rule == Rule.TAG_MATCHES
    repo.delivery.sync("staging")
    checked = check_synced(repo.delivery, "staging")
    assert checked is not None and checked.current.uri == merged.current.uri

    repo.push()
    second = repo.delivery.promote_to("dev")
    assert isinstance(second, rel.Record)
    _tag_to(registry, repo, "staging", second.current.uri.rpartition("@")[2])
    with pytest.raises(PromotionRefused, match=r"tag staging points at sha256:.*record"):
        check_synced(repo.delivery, "staging")


@pytest.mark.slow
def test_a_deferred_rollback_moves_no_tag_until_sync(registry_repo: Repo) -> None:
    """Rollback through the pull-request gate: the record changes on the branch, the tag waits
    for the merge, then moves from the rolled-back release to the previous one."""
    repo = registry_repo
    released = []
    for _ in range(2):
        repo.push()
        record = repo.delivery.promote_to("dev")
        assert isinstance(record, rel.Record)
        released.append(record.current.uri.rpartition("@")[2])
    rolled = repo.delivery.rollback("dev", defer_store=True)
    assert rolled.current.uri.endswith(released[0])
    with pytest.raises(PromotionRefused, match=f"tag dev points at {released[1]}"):
        check_synced(repo.delivery, "dev")  # the approval has not happened: dev's tag stayed
    repo.delivery.sync("dev")
    checked = check_synced(repo.delivery, "dev")
    assert checked is not None and checked.current.uri.endswith(released[0])
