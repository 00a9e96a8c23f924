"""Release records: `environments/<env>/release.yaml` says what runs in that environment.

A record names one immutable artifact (model version plus sha256 digest over the SavedModel
tree) and where it came from. Only the promotion commands write it, atomically: the new content
goes to a temporary file in the same folder, is flushed to disk, and replaces the old file in one
rename, so a crash leaves either the old record or the new one, never half of either.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from core.errors import ConfigError
from core.verdicts import Verdict

RECORD_FILE = "release.yaml"
HISTORY_LIMIT = 10
HEADER = (
    "# Written by `mlops promote` / `mlops rollback` / `mlops loadtest --record`; do not "
    "edit by hand.\n# A change to this file is a deployment: review it like one.\n"
)


@dataclass
class LoadTest:
    verdict: str = Verdict.NONE  # PASS, FAIL or NONE (not run for this release yet)
    at: str = ""
    report: str = ""
    p95_ms: float | None = None
    p99_ms: float | None = None
    rps: float | None = None
    failure_ratio: float | None = None


@dataclass
class Analysis:
    """The shadow or canary analysis of this release in this environment (`mlops analyze
    --record`): its verdict beside the load test's, and the figures it was judged by."""

    verdict: str = Verdict.NONE  # PASS, FAIL, INCONCLUSIVE or NONE (not analysed here)
    at: str = ""
    strategy: str = ""  # rollout.strategy when it ran: shadow or canary
    requests: float | None = None
    error_ratio: float | None = None
    p99_ms: float | None = None
    # The release it judged: a verdict counts only for that exact artifact, so one copied or
    # left over from another version never opens the analysis-passed rule.
    version: int | None = None
    digest: str = ""

    def judged(self, release: Release) -> bool:
        """Whether this analysis was recorded for `release` (same version and digest)."""
        return (self.version, self.digest) == (release.version, release.digest)


@dataclass
class Release:
    """One release of one environment: what runs, where it came from, how it did."""

    model_name: str
    version: int
    digest: str
    uri: str
    git_commit: str = ""
    pipeline_run: str = ""
    promoted_from: str = ""  # "pipeline" for dev, else the source environment
    promoted_at: str = ""
    promoted_by: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    loadtest: LoadTest = field(default_factory=LoadTest)
    analysis: Analysis = field(default_factory=Analysis)
    # The training data: spans of the run's window under data_root (drift baseline, new spans).
    spans: list[int] = field(default_factory=list)
    data_root: str = ""
    # Set on a history entry that `mlops rollback` took out of service: it stays on record (what
    # ran, and until when), and a later rollback never returns to it.
    rolled_back_at: str = ""
    rolled_back_by: str = ""
    # The CI run of the pipeline run that trained it, whose artifacts hold its run report.
    report: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> Release:
        try:
            data = dict(data)
            data["loadtest"] = LoadTest(**(data.get("loadtest") or {}))
            data["analysis"] = Analysis(**(data.get("analysis") or {}))
            release = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"{where}: not a release record: {exc}") from None
        if not isinstance(release.version, int) or release.version <= 0:
            raise ConfigError(
                f"{where}: version must be a positive integer, got {release.version!r}"
            )
        if not str(release.digest).startswith("sha256:"):
            raise ConfigError(f"{where}: digest must start with 'sha256:', got {release.digest!r}")
        return release

    def same_artifact(self, other: Release) -> bool:
        return (self.version, self.digest) == (other.version, other.digest)

    def short(self) -> str:
        return f"version {self.version} ({self.digest[7:19]})"

    def to_dict(self) -> dict[str, Any]:
        """As written to YAML: the rollback fields only on a release that was rolled back."""
        data = asdict(self, dict_factory=_plain)
        if not self.rolled_back_at:
            del data["rolled_back_at"], data["rolled_back_by"]
        if not self.report:  # records from before reports, and local runs, stay as they were
            del data["report"]
        if self.analysis.verdict == Verdict.NONE:  # environments without shadow or canary
            del data["analysis"]
        return data


@dataclass
class Record:
    environment: str
    current: Release
    # Newest first, excluding current; a rolled-back release stays here, marked as such.
    history: list[Release] = field(default_factory=list)

    def to_yaml(self) -> str:
        body = {
            "environment": self.environment,
            "current": self.current.to_dict(),
            "history": [r.to_dict() for r in self.history],
        }
        return HEADER + yaml.safe_dump(body, sort_keys=False)


def _plain(items: list[tuple[str, Any]]) -> dict[str, Any]:
    """Enum members (a verdict) as their text: the safe YAML dumper writes only plain types."""
    return {key: value.value if isinstance(value, Enum) else value for key, value in items}


def record_path(environments_dir: Path, env: str) -> Path:
    return Path(environments_dir) / env / RECORD_FILE


def read(environments_dir: Path, env: str) -> Record | None:
    path = record_path(environments_dir, env)
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "current" not in data:
        raise ConfigError(f"{path}: not a release record (no 'current' release)")
    return Record(
        environment=data.get("environment", env),
        current=Release.from_dict(data["current"], f"{path}: current"),
        history=[
            Release.from_dict(h, f"{path}: history[{i}]")
            for i, h in enumerate(data.get("history") or [])
        ],
    )


def write(environments_dir: Path, record: Record) -> Path:
    """Replace the record in one rename; the old file stays intact if anything fails first."""
    path = record_path(environments_dir, record.environment)
    path.parent.mkdir(parents=True, exist_ok=True)
    record.history = record.history[:HISTORY_LIMIT]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{RECORD_FILE}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(record.to_yaml())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
