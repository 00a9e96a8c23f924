"""After `mlops sync`: does the environment's store serve exactly what main's record says?

The prod tag moves in cd-prod.yml, after the promotion pull request merged; this is that
workflow's last word. A registry store must tag the record's manifest digest (rule
`tag-matches`), and the artifact must pull with both digests intact; a folder or bucket store
must hold the record's copy with its tree digest.
"""

from __future__ import annotations

from core.verdicts import Rule
from delivery.promotion import Delivery, artifact_of
from delivery.rules import PromotionRefused
from store import release as rel


def check_synced(delivery: Delivery, env: str) -> rel.Record | None:
    """The record, once its artifact is verified in `env`'s store; None without a release."""
    record = delivery.record(env)
    if record is None:
        return None
    artifact = artifact_of(record.current)
    store = delivery.store(env)
    tag_digest = getattr(store, "tag_digest", None)
    if tag_digest is not None:
        pointed = tag_digest(env)
        if pointed != artifact.manifest_digest:
            raise PromotionRefused(
                Rule.TAG_MATCHES,
                f"tag {env} points at {pointed or 'nothing'}, but {env}'s release record "
                f"({record.current.short()}) says {artifact.manifest_digest}: run "
                f"`mlops sync --env {env}` (cd-{env}.yml) or inspect who moved the tag",
            )
    delivery.verify(env, artifact)
    return record
