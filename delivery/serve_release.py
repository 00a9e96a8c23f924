"""What `mlops serve` serves: the versions asked for, else the environment's release.

With `--release`, or under a `specific` version policy, the release record names the version
(labelled `stable`), so a local server runs what the environment runs and a load test of it may
be recorded; a `latest` policy alone serves the newest pushed model. A registry store is
pulled, both digests checked, into a local folder TF Serving can poll, since it cannot read a
registry itself.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core import registry_setup
from core.config import EnvironmentConfig
from core.errors import ConfigError, MlopsError
from core.uris import display
from delivery.promotion import artifact_of
from serving import backends
from store import release as rel
from store.model_store import Artifact, ArtifactMissing, open_store


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
