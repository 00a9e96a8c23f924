"""What the report reads besides the run summary: statistics per span, the trainer's history,
the load test of the pushed model, and every environment's release history.

Each reader returns None (or an empty result) when its input is absent, so the page can say in
words which section is missing and why, instead of failing the run it describes.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import EnvironmentConfig
from core.paths import TRAINING_HISTORY_FILE
from store import release as rel

LOADTEST_DIR = "loadtest"
HISTORY_CSV = "locust_stats_history.csv"
SERVED_FILE = "served_versions.json"  # written by `mlops loadtest`: which versions answered


@dataclass
class FeatureStats:
    """One feature's statistics in one span, from TFDV's statistics proto."""

    name: str
    kind: str  # numeric or string
    count: int
    missing: float  # share of examples without a value
    figures: dict[str, float] = field(default_factory=dict)  # mean, std, min, median, max
    top: list[tuple[str, float]] = field(default_factory=list)  # string: top values, counts
    unique: int | None = None
    edges: list[float] = field(default_factory=list)  # numeric: histogram bucket edges
    counts: list[float] = field(default_factory=list)


@dataclass
class LoadTestRun:
    summary: dict[str, Any]
    seconds: list[float]  # since the first row of locust's history
    rps: list[float]
    percentiles: dict[str, list[float]]  # "p50" etc. -> ms


def _store(cfg: EnvironmentConfig) -> Any:
    import ml_metadata as mlmd
    from tfx.orchestration import metadata

    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(cfg.paths.metadata))


def _prop(artifact: Any, name: str) -> Any:
    if name in artifact.custom_properties:
        value = artifact.custom_properties[name]
        return getattr(value, value.WhichOneof("value"))
    if name in artifact.properties:
        value = artifact.properties[name]
        return getattr(value, value.WhichOneof("value"))
    return None


def statistics_by_span(cfg: EnvironmentConfig) -> dict[int, list[FeatureStats]]:
    """The newest StatisticsGen output of each span this pipeline's ML Metadata holds.

    The span comes from the examples StatisticsGen read (its lineage): the statistics artifact
    itself carries none. Transform's statistics (one file, no split folders) are left out.
    """
    if not Path(cfg.paths.metadata).exists():
        return {}
    import ml_metadata as mlmd

    store = _store(cfg)
    stats = [
        a
        for a in store.get_artifacts_by_type("ExampleStatistics")
        if any(Path(a.uri).glob("Split-*/FeatureStats.pb"))
    ]
    if not stats:
        return {}
    made_by = {
        e.artifact_id: e.execution_id
        for e in store.get_events_by_artifact_ids([a.id for a in stats])
        if e.type == mlmd.proto.Event.OUTPUT
    }
    inputs = [
        e
        for e in store.get_events_by_execution_ids(sorted(set(made_by.values())))
        if e.type == mlmd.proto.Event.INPUT
    ]
    examples = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in inputs])}
    span_of_execution = {
        e.execution_id: _prop(examples[e.artifact_id], "span")
        for e in inputs
        if e.artifact_id in examples and _prop(examples[e.artifact_id], "span") is not None
    }
    newest: dict[int, Any] = {}
    for artifact in stats:
        span = span_of_execution.get(made_by.get(artifact.id, -1))
        if span is None:
            continue
        if int(span) not in newest or artifact.id > newest[int(span)].id:
            newest[int(span)] = artifact
    return {span: read_statistics(a.uri) for span, a in sorted(newest.items())}


def read_statistics(uri: str) -> list[FeatureStats]:
    """The training split's statistics (the split the data gate validates)."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    files = sorted(Path(uri).glob("Split-train/FeatureStats.pb")) or sorted(
        Path(uri).glob("*/FeatureStats.pb")
    )
    if not files:
        return []
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    stats.ParseFromString(files[0].read_bytes())
    out = []
    for dataset in stats.datasets[:1]:
        total = dataset.num_examples or 1
        for feature in dataset.features:
            name = feature.path.step[-1] if feature.path.step else feature.name
            if feature.HasField("num_stats"):
                n = feature.num_stats
                common = n.common_stats
                hist = next((h for h in n.histograms if h.type == h.STANDARD), None) or next(
                    iter(n.histograms), None
                )
                edges = (
                    [b.low_value for b in hist.buckets]
                    + ([hist.buckets[-1].high_value] if hist and hist.buckets else [])
                    if hist
                    else []
                )
                out.append(
                    FeatureStats(
                        name=name,
                        kind="numeric",
                        count=int(common.num_non_missing),
                        missing=common.num_missing / total,
                        figures={
                            "mean": n.mean,
                            "std": n.std_dev,
                            "min": n.min,
                            "median": n.median,
                            "max": n.max,
                        },
                        edges=edges,
                        counts=[b.sample_count for b in hist.buckets] if hist else [],
                    )
                )
            elif feature.HasField("string_stats"):
                s = feature.string_stats
                common = s.common_stats
                out.append(
                    FeatureStats(
                        name=name,
                        kind="string",
                        count=int(common.num_non_missing),
                        missing=common.num_missing / total,
                        unique=int(s.unique),
                        top=[(v.value, v.frequency) for v in s.top_values[:5]],
                    )
                )
    return sorted(out, key=lambda f: f.name)


def training_history(cfg: EnvironmentConfig, pipeline_run: str) -> dict[str, list[float]] | None:
    """The trainer's per-epoch history (loss, val_loss, ...) of the model `pipeline_run` trained."""
    if not pipeline_run or not Path(cfg.paths.metadata).exists():
        return None
    import ml_metadata as mlmd

    store = _store(cfg)
    context = store.get_context_by_type_and_name("pipeline_run", pipeline_run)
    if context is None:
        return None
    output = mlmd.proto.Event.OUTPUT
    for execution in store.get_executions_by_context(context.id):
        events = [e for e in store.get_events_by_execution_ids([execution.id]) if e.type == output]
        for artifact in store.get_artifacts_by_id([e.artifact_id for e in events]):
            path = Path(artifact.uri, TRAINING_HISTORY_FILE)
            if path.exists():
                data = json.loads(path.read_text())
                return {k: [float(v) for v in vs] for k, vs in data.items()}
    return None


def loadtest(cfg: EnvironmentConfig, version: str | None) -> tuple[LoadTestRun | None, str]:
    """The last load test in this work folder, if it was of `version`; else None and why not."""
    folder = Path(cfg.work_dir) / LOADTEST_DIR
    summary_file, served_file = folder / "summary.json", folder / SERVED_FILE
    if not summary_file.exists():
        return None, "No load test has run for this model yet (`make serve-loadtest-record`)."
    served = json.loads(served_file.read_text()) if served_file.exists() else []
    if version is None or str(version) not in [str(v) for v in served]:
        return None, (
            f"The last load test here was of version(s) {', '.join(map(str, served)) or 'unknown'}"
            f", not of this run's model ({version or 'nothing pushed'}); none has run for it yet."
        )
    rows = []
    history = folder / HISTORY_CSV
    if history.exists():
        with history.open(newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("Name") == "Aggregated"]
    start = float(rows[0]["Timestamp"]) if rows else 0.0

    def num(row: dict[str, str], key: str) -> float:
        try:
            return float(row.get(key) or 0)
        except ValueError:  # locust writes "N/A" before the first answer
            return 0.0

    return (
        LoadTestRun(
            summary=json.loads(summary_file.read_text()),
            seconds=[num(r, "Timestamp") - start for r in rows],
            rps=[num(r, "Requests/s") for r in rows],
            percentiles={p: [num(r, f"{p[1:]}%") for r in rows] for p in ("p50", "p95", "p99")},
        ),
        "",
    )


def release_history(environments_dir: Path, envs: list[str]) -> dict[str, rel.Record | None]:
    """Every environment's release record (current and history), in release order."""
    return {env: rel.read(environments_dir, env) for env in envs}
