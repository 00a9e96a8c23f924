"""What `mlops serve` serves: the versions asked for, else the environment's release.

With `--release`, or under a `specific` version policy, the release record names the version
(labelled `stable`), so a local server runs what the environment runs and a load test of it may
be recorded; a `latest` policy alone serves the newest pushed model. A registry store is
pulled, both digests checked, into a local folder TF Serving can poll, since it cannot read a
registry itself. Whatever the store kind, each version about to be served is held to the tree
digest a release record or the run summary recorded for it (`digest-matches`), before any
server starts.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core import config, registry_setup
from core.config import EnvironmentConfig
from core.errors import ConfigError, MlopsError
from core.uris import display
from core.verdicts import Rule
from delivery.promotion import artifact_of
from delivery.rules import PromotionRefused
from pipeline.summary import SUMMARY_FILE
from serving import backends
from store import release as rel
from store.model_store import Artifact, ArtifactMissing, ModelStore, open_store


@dataclass
class ServePlan:
    """The versions to load (None: the version policy decides), their labels, and the option or
    file that named them (for messages)."""

    versions: list[int] | None
    labels: dict[str, int] | None
    source: str
    record: rel.Record | None


def plan(
    environments_dir: Path,
    cfg: EnvironmentConfig,
    requested: list[int] | None,
    release: bool = False,
) -> ServePlan:
    """`requested` (--version); else the release record's version with `release` (--release)
    or under a `specific` policy; else the policy's newest. Versions the store does not hold
    are refused before any server starts."""
    registry_setup.require_usable(cfg)
    record = rel.read(environments_dir, cfg.name)
    path = rel.record_path(environments_dir, cfg.name)
    if release and record is None:
        source = cfg.deploy.promote_from
        promote = f"--from {source} --to {cfg.name}" if source else f"--to {cfg.name}"
        raise ConfigError(
            f"--release: {cfg.name} has no release ({display(path)} does not exist): promote "
            f"one first (`mlops promote {promote}`), or serve without --release"
        )
    chosen = ServePlan(requested, None, "--version", record)
    wants_release = release or cfg.serving.version_policy == "specific"
    if not requested and wants_release and record is not None:
        version = record.current.version
        chosen = ServePlan([version], {"stable": version}, display(path), record)
    if chosen.versions:  # every store kind lists its versions at once; a server would wait
        backends.check_versions(
            chosen.versions,
            open_store(cfg.model_store_dir).versions(),
            cfg.model_store_dir,
            chosen.source,
        )
    return chosen


def pulled_store(cfg: EnvironmentConfig, chosen: ServePlan) -> str | None:
    """For a registry store: pull the versions to serve (both digests checked) into a local
    folder TF Serving can poll; None when the store is already one."""
    store = open_store(cfg.model_store_dir)
    if store.kind != "oci":
        return None
    wanted: list[Artifact] = []
    if chosen.versions:
        for version in chosen.versions:
            found = store.resolve(version)
            if found is None:  # removed since `plan` listed it
                raise ArtifactMissing(
                    f"--version {version}: {store.uri} has no version "
                    f"{version} (it has: {store.versions() or 'none'})"
                )
            wanted.append(found)
    elif chosen.record is not None:
        wanted = [artifact_of(chosen.record.current)]
    else:
        newest = store.newest()
        if newest is None:
            raise MlopsError(
                f"no model version in {store.uri}: run `mlops run --env "
                f"{cfg.name}` first (it pushes blessed models there)"
            )
        wanted = [newest]
    served = Path(cfg.work_dir) / "serving" / "store" / cfg.model_name
    for artifact in wanted:
        pulled = store.materialize(artifact, Path(cfg.work_dir) / "models")
        target = served / str(artifact.version)
        if not target.exists():
            partial = served / f".{artifact.version}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(pulled, partial, copy_function=os.link)
            partial.rename(target)
    return str(served)


def recorded_digests(environments_dir: Path, cfg: EnvironmentConfig) -> dict[int, tuple[str, str]]:
    """Version -> (tree digest, the file that recorded it): every environment's release record
    (current and history) and this environment's run summary. A version number names one
    artifact in every store (promotion copies it unchanged), so any record of it will do;
    `cfg`'s own record is read last and wins."""
    found: dict[int, tuple[str, str]] = {}
    summary_path = Path(cfg.paths.pipeline_root).parent / SUMMARY_FILE
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, ValueError):
        summary = {}
    version, digest = str(summary.get("pushed_version") or ""), summary.get("model_digest")
    if summary.get("pushed") and version.isdigit() and digest:
        found[int(version)] = (str(digest), display(summary_path))
    names = [n for n in config.available_environments(environments_dir) if n != cfg.name]
    for name in [*names, cfg.name]:
        record = rel.read(environments_dir, name)
        if record is None:
            continue
        where = display(rel.record_path(environments_dir, name))
        for release in [*reversed(record.history), record.current]:
            found[release.version] = (release.digest, where)
    return found


def served_versions(cfg: EnvironmentConfig, chosen: ServePlan, store: ModelStore) -> list[int]:
    """The versions a server started now loads: those named, else the policy's newest."""
    if chosen.versions:
        return list(chosen.versions)
    held = store.versions()
    return held[-max(1, cfg.serving.num_versions) :] if held else []


def check_digests(environments_dir: Path, cfg: EnvironmentConfig, chosen: ServePlan) -> list[str]:
    """Refuse (`digest-matches`) a version whose tree digest differs from the one recorded for
    it, in any kind of store; return a note for each version no record names, served unchecked
    because nothing says what it should hold."""
    store = open_store(cfg.model_store_dir)
    recorded = recorded_digests(environments_dir, cfg)
    notes = []
    for version in served_versions(cfg, chosen, store):
        if version not in recorded:
            notes.append(
                f"version {version}: no release record or run summary names its digest, so it "
                f"is served unchecked"
            )
            continue
        expected, where = recorded[version]
        artifact = store.resolve(version)
        if artifact is None:
            continue  # removed since it was listed; the server reports it missing
        if artifact.tree_digest != expected:
            raise PromotionRefused(
                Rule.DIGEST_MATCHES,
                f"version {version} in {display(store.uri)} has digest {artifact.tree_digest}, "
                f"but {where} records {expected}: it changed after it was pushed (tampering or "
                f"a broken copy); nothing was served. Restore it from another store or "
                f"re-run the pipeline",
            )
    return notes
