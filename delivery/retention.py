"""`mlops gc`: delete registry versions that no release needs, so a metered private package
stops growing with every push to main (issue 18, finding 10).

What stays, whatever else happens:
- every manifest that any environment's release record names, current or in its history (by
  manifest digest, or by version and tree digest when the record points elsewhere);
- every manifest an environment tag (`dev`, `staging`, `prod`, any tag that is not a version
  number) points at;
- the newest `retention.keep_candidates` of the remaining versions;
- anything that cannot be read as one of this template's model artifacts.
The rest is deleted by digest through the registry API, one at a time; right before each delete
the records are read again from disk and the tags again from the registry, so a release made
while gc runs keeps its version (it is reported as spared, not deleted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from store import release as rel
from store.base import DigestMismatch
from store.oci import OciStore

RECORD_FILE = rel.RECORD_FILE


@dataclass(frozen=True)
class Entry:
    """One version in the store: its manifest digest and why it is kept or deleted."""

    version: int
    digest: str
    reason: str

    def line(self, verb: str) -> str:
        return f"{verb:<7} version {self.version} ({self.digest[:19]}): {self.reason}"


@dataclass
class Plan:
    store: OciStore
    keep: list[Entry] = field(default_factory=list)
    delete: list[Entry] = field(default_factory=list)


@dataclass
class Outcome:
    deleted: list[Entry] = field(default_factory=list)
    spared: list[Entry] = field(default_factory=list)  # named or tagged since the plan


@dataclass(frozen=True)
class Named:
    """What the records and tags protect: manifest digests and (version, tree digest) pairs."""

    digests: dict[str, str]
    trees: dict[tuple[int, str], str]

    def why(self, version: int, digest: str, tree: str) -> str | None:
        return self.digests.get(digest) or self.trees.get((version, tree))


def _records(environments_dir: Path) -> list[rel.Record]:
    """Every environment's record: each folder of environments/ that holds one."""
    folders = sorted(p for p in Path(environments_dir).iterdir() if (p / RECORD_FILE).is_file())
    records = [rel.read(environments_dir, p.name) for p in folders]
    return [r for r in records if r is not None]


def named(environments_dir: Path, store: OciStore) -> Named:
    """Read now: what every record names and what every environment tag points at."""
    digests: dict[str, str] = {}
    trees: dict[tuple[int, str], str] = {}
    for record in _records(environments_dir):
        for index, release in enumerate([record.current, *record.history]):
            where = (
                f"{record.environment}'s release"
                if index == 0
                else f"in {record.environment}'s history"
            )
            _, _, digest = release.uri.partition("@")
            if digest.startswith("sha256:"):
                digests.setdefault(digest, where)
            trees.setdefault((release.version, release.digest), where)
    for tag in store.tags():
        if not tag.isdigit():
            pointed = store.tag_digest(tag)
            if pointed:
                digests.setdefault(pointed, f"tagged {tag}")
    return Named(digests, trees)


def plan(environments_dir: Path, store: OciStore, keep_candidates: int) -> Plan:
    """What gc would keep and delete now, newest version first."""
    protected = named(environments_dir, store)
    out = Plan(store)
    candidates = 0
    for version in sorted(store.versions(), reverse=True):
        digest = store.tag_digest(str(version)) or ""
        try:
            artifact = store.resolve(version)
        except DigestMismatch:
            out.keep.append(Entry(version, digest, "not a model artifact of this template"))
            continue
        if artifact is None:  # deleted since the listing
            continue
        reason = protected.why(version, artifact.manifest_digest, artifact.tree_digest)
        if reason:
            out.keep.append(Entry(version, artifact.manifest_digest, reason))
        elif candidates < keep_candidates:
            candidates += 1
            out.keep.append(
                Entry(
                    version,
                    artifact.manifest_digest,
                    f"candidate, one of the newest {keep_candidates} (retention.keep_candidates)",
                )
            )
        else:
            out.delete.append(Entry(version, artifact.manifest_digest, "unreleased candidate"))
    return out


def apply(environments_dir: Path, planned: Plan) -> Outcome:
    """Delete the plan's versions, each only if nothing names or tags it right before."""
    outcome = Outcome()
    for entry in planned.delete:
        protected = named(environments_dir, planned.store)
        tree = ""
        current = planned.store.resolve(entry.version)
        if current is not None:
            tree = current.tree_digest
            if current.manifest_digest != entry.digest:  # re-published under the same version
                outcome.spared.append(Entry(entry.version, current.manifest_digest, "changed"))
                continue
        reason = protected.why(entry.version, entry.digest, tree)
        if reason:
            outcome.spared.append(Entry(entry.version, entry.digest, f"now {reason}"))
            continue
        if planned.store.delete(entry.digest):
            outcome.deleted.append(entry)
    return outcome


def registry_store(store: object, env: str, model_store: str) -> OciStore:
    """`env`'s store, refused with what to set unless it is a registry."""
    if not isinstance(store, OciStore):
        raise ConfigError(
            f"{env}: paths.model_store {model_store!r} is not a registry (oci://...); "
            f"`mlops gc` prunes registry stores only"
        )
    return store
