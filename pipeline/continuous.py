"""Continuous training: whether an environment should retrain now, and against what.

`mlops ct check` asks four questions of the environment's released model (its release record
carries the spans it was trained on and where they live):
- new data: a span newer than the release's training spans;
- drift: the newest span against those spans, with the drift gate's thresholds;
- decay: the released model, read by digest through the model store, scores below
  `continuous_training.decay_floor` on the newest labelled span;
- age: the release is older than `continuous_training.max_release_age_days`.
Every "yes" is one reason; no reason means no retrain.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.config import EnvironmentConfig
from core.errors import ConfigError, GateError
from core.paths import REPO_ROOT
from core.uris import is_remote
from ct import spans as S
from store import release as rel


@dataclass
class Baseline:
    """The released model's training spans under this run's data root, or why there are none."""

    spans: list[int]
    note: str = ""
    release: rel.Release | None = None


def _absolute(uri: str) -> str:
    return (
        uri
        if not uri or is_remote(uri) or Path(uri).is_absolute()
        else str((REPO_ROOT / uri).resolve())
    )


def released_baseline(cfg: EnvironmentConfig, environments_dir: Path) -> Baseline:
    record = rel.read(environments_dir, cfg.name)
    if record is None:
        return Baseline([], f"no released model for {cfg.name} yet; drift was not measured")
    current = record.current
    if not current.spans:
        return Baseline(
            [],
            f"{cfg.name}'s release {current.short()} records no training spans "
            f"(released before spans were recorded); drift was not measured",
            current,
        )
    if current.data_root and _absolute(current.data_root) != _absolute(cfg.data.root):
        return Baseline(
            [],
            f"{cfg.name}'s release was trained on data under "
            f"{current.data_root}, this run reads {cfg.data.root}; drift was "
            f"not measured",
            current,
        )
    return Baseline(sorted(current.spans), "", current)


@dataclass
class CheckResult:
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)

    def markdown(self, env: str) -> str:
        head = (
            f"### Continuous training ({env}): retrain"
            if self.retrain
            else f"### Continuous training ({env}): no retrain needed"
        )
        lines = [f"- {r}" for r in self.reasons] or ["- no reason to retrain"]
        return "\n".join([head, "", *lines, *[f"- note: {n}" for n in self.notes]]) + "\n"


def check(
    cfg: EnvironmentConfig, environments_dir: Path, now: dt.datetime | None = None
) -> CheckResult:
    from ct import drift
    from store.rows import load_schema

    result = CheckResult()
    baseline = released_baseline(cfg, environments_dir)
    newest = S.newest(cfg)
    available = S.available(cfg)
    release = baseline.release
    if release is None:
        result.reasons.append(f"no release in {cfg.name} yet: train the first model")
        return result
    if not baseline.spans:
        result.reasons.append(f"unknown training data: {baseline.note.split('; ')[0]}")
    elif newest > max(baseline.spans):
        result.reasons.append(
            f"new span {newest} since the released model's training spans "
            f"{S.describe(baseline.spans)}"
        )
    schema = load_schema()
    _, thresholds = drift.load_thresholds(schema)
    if baseline.spans:
        verdict = drift.judge(
            available[newest],
            S.files(cfg, baseline.spans),
            schema,
            thresholds,
            mode="stop",
            span=newest,
            baseline_spans=baseline.spans,
            min_examples=cfg.data.min_examples,
        )
        if verdict.examples < cfg.data.min_examples:
            result.notes.append(f"drift not measured: {verdict.note}")
        for d in verdict.drifted:
            result.reasons.append(
                f"drift in span {newest} against spans {S.describe(baseline.spans)}: {d.line()}"
            )
    _decay(cfg, release, available, result)
    age = (now or dt.datetime.now(dt.timezone.utc)) - _parse_time(release.promoted_at)
    limit = cfg.continuous_training.max_release_age_days
    if age > dt.timedelta(days=limit):
        result.reasons.append(
            f"release age {age.total_seconds() / 86400:.1f} days > "
            f"{limit:g} days (continuous_training.max_release_age_days; "
            f"released {release.promoted_at})"
        )
    return result


def _parse_time(text: str) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise GateError(
            f"the release record's promoted_at {text!r} is not an ISO timestamp; "
            f"re-promote the release"
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)


def _decay(
    cfg: EnvironmentConfig,
    release: rel.Release,
    available: dict[int, list[str]],
    result: CheckResult,
) -> None:
    """The released model's evaluation.metric on the newest labelled span, against the floor."""
    from store.model_store import materialize

    labelled = [s for s in sorted(available, reverse=True) if _labelled_rows(available[s])]
    if not labelled:
        result.notes.append("decay not measured: no span has labels (tips)")
        return
    span = labelled[0]
    # By digest, from whatever store holds it; a missing or changed artifact stops here (exit 1),
    # an unreachable registry is an InfraError (exit 3).
    model_dir = materialize(
        _absolute(release.uri),
        release.digest,
        Path(cfg.work_dir) / "ct" / "models",
        version=release.version,
    )
    value, count = score(model_dir, _labelled_rows(available[span]), cfg.evaluation.metric)
    floor = cfg.continuous_training.decay_floor
    metric = cfg.evaluation.metric
    if math.isnan(value) or value < floor:
        result.reasons.append(
            f"decay: the released model's {metric} on span {span} is "
            f"{value:.4f} < floor {floor} (continuous_training.decay_floor; "
            f"{count} labelled rows)"
        )
    else:
        result.notes.append(
            f"released model's {metric} on span {span}: {value:.4f} (floor {floor})"
        )


def _labelled_rows(paths: list[str]) -> list:
    """Typed rows of a span with both label sources present; [] when unlabelled."""
    from store import rows as R

    schema = R.load_schema()
    out = []
    for path in paths:
        local = Path(path)
        if is_remote(path):
            import tempfile

            import tensorflow as tf

            local = Path(tempfile.mkdtemp()) / "span.csv"
            tf.io.gfile.copy(path, str(local), overwrite=True)
        try:
            rows = R.read_csv(local, schema, serving=False)
        except R.RowError as exc:
            if "no data rows" in str(exc):
                continue
            raise ConfigError(f"cannot score the released model on {path}: {exc}") from None
        out += [r for r in rows if r.get("tips") and r.get("fare")]
    return out


def score(model_dir: Path, rows: list, metric: str) -> tuple[float, int]:
    """`metric` of the SavedModel's serving signature on raw rows (label as in the Transform)."""
    import numpy as np
    import tensorflow as tf

    from models import features as F
    from store import rows as R

    labels = np.array([float(r["tips"][0] > r["fare"][0] * F.TIP_FRACTION) for r in rows])
    serving = [{k: v for k, v in r.items() if k not in ("tips",)} for r in rows]
    signature = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    batches = [R.examples(serving[i : i + 1024]) for i in range(0, len(serving), 1024)]
    predictions = np.concatenate(
        [signature(examples=tf.constant(b))["outputs"].numpy()[:, 0] for b in batches]
    )
    keras_metric = {
        "auc": tf.keras.metrics.AUC(num_thresholds=10000),
        "binary_accuracy": tf.keras.metrics.BinaryAccuracy(),
        "precision": tf.keras.metrics.Precision(),
        "recall": tf.keras.metrics.Recall(),
    }[metric]
    keras_metric.update_state(labels, predictions)
    return float(keras_metric.result().numpy()), len(rows)
