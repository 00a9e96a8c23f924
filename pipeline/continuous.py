"""Continuous training: whether an environment should retrain now, and against what.

`mlops ct check` asks four questions of the environment's released model (its release record
carries the spans it was trained on and where they live):
- new data: a span the release was not trained on; spans are compared by content (span digests),
  so a copy of the data under another root (`--data DIR`) is judged like the original;
- drift: the newest span against those spans, with the drift gate's thresholds;
- decay: the released model, read by digest through the model store, scores below
  `continuous_training.decay_floor` (above `decay_ceiling` for an error such as rmse) on the
  newest labelled span it was not trained on;
- age: the release is older than `continuous_training.max_release_age_days`;
- serving drift: the last `mlops monitor` report (pipeline.serving_drift) found the sampled live
  requests moved away from the training spans, where the environment samples requests.
Every "yes" is one reason; no reason means no retrain. A span a retrain would ingest first goes
through the pipeline's own gates (the curated schema, `data.min_examples`): a span they refuse is
no reason to retrain, it is a stop (exit 1), because the retrain would stop at the same gate.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from core.config import EnvironmentConfig
from core.errors import ConfigError, GateError
from core.uris import is_remote, resolve
from ct import decay
from ct import spans as S
from store import release as rel


@dataclass
class Baseline:
    """The released model's training spans under this run's data root, or why there are none.

    `spans`: the numbers, under this run's root, of every span the release was trained on (found
    by content), the drift gate's baseline; empty when any of them is missing. `unseen`: the spans
    under this run's root the release was not trained on; None when that cannot be told.
    """

    spans: list[int]
    note: str = ""
    release: rel.Release | None = None
    unseen: list[int] | None = None


def released_baseline(
    cfg: EnvironmentConfig, environments_dir: Path, read_data: bool = True
) -> Baseline:
    """`read_data=False` (compiling offline, where the data root may be an unreachable bucket):
    spans are matched by number under the same root, and another root is not read."""
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
    trained_root = current.data_root or cfg.data.root
    same_root = resolve(trained_root) == resolve(cfg.data.root)
    if not read_data:
        if same_root:
            return Baseline(sorted(current.spans), "", current)
        return Baseline(
            [],
            f"{cfg.name}'s release was trained on data under {trained_root}, this pipeline "
            f"reads {cfg.data.root}; drift was not measured",
            current,
        )
    here = S.available(cfg)
    trained = (
        here if same_root else S.available_under(resolve(trained_root), cfg.data.input_pattern)
    )
    gone = [s for s in current.spans if s not in trained]
    if gone:
        return Baseline(
            [],
            f"{cfg.name}'s release was trained on span(s) {S.describe(current.spans)} under "
            f"{trained_root}, and span(s) {S.describe(gone)} cannot be read there, so which "
            f"spans under {cfg.data.root} are new cannot be told; drift was not measured",
            current,
        )
    by_digest = {S.digest(trained[s]): s for s in current.spans}
    digests = {number: S.digest(files) for number, files in here.items()}
    unseen = [number for number, d in digests.items() if d not in by_digest]
    found = {by_digest[d]: number for number, d in digests.items() if d in by_digest}
    missing = [s for s in current.spans if s not in found]
    if missing:
        return Baseline(
            [],
            f"{cfg.name}'s release was trained on span(s) {S.describe(current.spans)} under "
            f"{trained_root}; span(s) {S.describe(missing)} of them are not under "
            f"{cfg.data.root} (compared by content); drift was not measured",
            current,
            unseen,
        )
    return Baseline(sorted(found.values()), "", current, unseen)


class SpanRefused(GateError):
    """The span a retrain would ingest fails the pipeline's data gate (schema or minimum count).

    Not a reason to retrain: the run would stop at the same gate. Exit 1, as that run would.
    """


def gate_span(cfg: EnvironmentConfig, span: int, paths: list[str], new: bool = True) -> None:
    """The pipeline's gates on the newest span, before any model runs: the curated schema (as
    ExampleValidator and the data gate judge it), then `data.min_examples` (the drift gate's
    count). Raises SpanRefused with the first gate's reasons, as the run would stop there."""
    from components.data_gate import validate_span
    from ct.drift import count_note
    from store.rows import load_schema

    anomalies, rows = validate_span(paths, load_schema())
    reasons = [f"{a.feature}: {a.description}" for a in anomalies]
    if not reasons and count_note(span, rows, cfg.data.min_examples):
        reasons = [count_note(span, rows, cfg.data.min_examples)]
    if not reasons:
        return
    folder = str(Path(paths[0]).parent) if paths else f"span {span}"
    shown = reasons[0] if len(reasons) == 1 else "".join(f"\n  - {r}" for r in reasons)
    raise SpanRefused(
        f"{'new ' if new else ''}span {span} refused by the data gate: {shown}\n"
        f"A retrain would stop at the same gate, so this is not a reason to retrain: fix or "
        f"remove {folder}, or, if the change is intended, update models/schema/schema.pbtxt "
        f"(or data.min_examples)."
    )


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
    """Raises SpanRefused when the span a retrain would ingest fails the pipeline's gates."""
    from components.drift_gate import label_values, load_thresholds
    from ct import drift
    from store.rows import load_schema

    result = CheckResult()
    baseline = released_baseline(cfg, environments_dir)
    newest = S.newest(cfg)
    available = S.available(cfg)
    release = baseline.release
    unseen = baseline.unseen
    if release is None or unseen is None or newest in unseen:
        gate_span(cfg, newest, available[newest], new=release is not None)
    if release is None:
        result.reasons.append(f"no release in {cfg.name} yet: train the first model")
        return result
    if unseen is None:
        result.reasons.append(f"unknown training data: {baseline.note.split('; ')[0]}")
    elif newest in unseen:
        trained_on = S.describe(baseline.spans or release.spans)
        result.reasons.append(
            f"new span {newest} since the released model's training spans {trained_on}"
            if newest > max(baseline.spans or release.spans)
            else f"new span {newest}: not among the released model's training spans "
            f"{trained_on} (compared by content)"
        )
    if unseen and newest in unseen:
        if baseline.spans:
            schema = load_schema()
            verdict = drift.judge(
                available[newest],
                S.files(cfg, baseline.spans),
                schema,
                load_thresholds(schema),
                mode="stop",
                span=newest,
                baseline_spans=baseline.spans,
                min_examples=cfg.data.min_examples,
                label=label_values,
            )
            for d in verdict.drifted:
                result.reasons.append(
                    f"drift in span {newest} against spans {S.describe(baseline.spans)}: {d.line()}"
                )
        else:
            result.notes.append(f"drift not measured: {baseline.note}")
    _decay(cfg, release, available, baseline, result)
    _serving_drift(cfg, release, result)
    age = (now or dt.datetime.now(dt.timezone.utc)) - _parse_time(release.promoted_at)
    limit = cfg.continuous_training.max_release_age_days
    if age > dt.timedelta(days=limit):
        result.reasons.append(
            f"release age {age.total_seconds() / 86400:.1f} days > "
            f"{limit:g} days (continuous_training.max_release_age_days; "
            f"released {release.promoted_at})"
        )
    return result


def _serving_drift(cfg: EnvironmentConfig, release: rel.Release, result: CheckResult) -> None:
    """The last `mlops monitor` report of the released model: each feature the sampled live
    requests moved on, past the drift gate's threshold, is one reason."""
    from pipeline import serving_drift

    if not cfg.monitoring.request_log.store:
        return  # sampling off: nothing to read
    report = serving_drift.read(cfg)
    where = serving_drift.report_dir(cfg) / serving_drift.REPORT_JSON
    if report is None:
        result.notes.append(f"serving drift not measured: no `mlops monitor` report ({where})")
    elif report.release_version != str(release.version):
        result.notes.append(
            f"serving drift not used: {where} measured release {report.release_version or '-'}, "
            f"{cfg.name} serves {release.version}; run `mlops monitor` again"
        )
    elif not report.measures:
        result.notes.append(f"serving drift not measured: {report.note}")
    else:
        spans = S.describe(report.baseline_spans)
        for line in report.lines():
            result.reasons.append(
                f"serving drift in {report.samples} sampled requests against the training "
                f"spans {spans}: {line}"
            )


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
    baseline: Baseline,
    result: CheckResult,
) -> None:
    """The released model's evaluation.metric on the newest labelled span it was not trained on
    (a score on its own training data says nothing about decay), against the floor."""
    from pipeline import decay_score
    from store.model_store import materialize

    if baseline.unseen is None:
        result.notes.append(
            f"decay not measured: which spans the released model was trained on cannot be "
            f"told ({baseline.note.split('; ')[0]}), and a score on its own training data "
            f"would say nothing"
        )
        return
    trained = S.describe(baseline.spans or release.spans)
    # Newer than the training window: a span left out of the window is older data, not decay.
    after = max(baseline.spans, default=0)
    span, rows = next(
        (
            (s, labelled)
            for s in sorted(baseline.unseen, reverse=True)
            if s > after and (labelled := _labelled_rows(available[s]))
        ),
        (None, []),
    )
    if span is None:
        result.notes.append(
            f"decay not measured: no labelled span under {cfg.data.root} that is newer than "
            f"the released model's training spans {trained}; decay is scored on spans the "
            f"model has not seen only"
        )
        return
    metric = cfg.evaluation.metric
    why = decay_score.unsupported(metric)
    if why:
        result.notes.append(f"decay not measured: {why}")
        return
    if len(rows) < cfg.data.min_examples:
        result.notes.append(
            f"decay not measured: span {span} has {len(rows)} labelled rows, below "
            f"data.min_examples {cfg.data.min_examples}"
        )
        return
    # By digest, from whatever store holds it; a missing or changed artifact stops here (exit 1),
    # an unreachable registry is an InfraError (exit 3).
    model_dir = materialize(
        resolve(release.uri),
        release.digest,
        Path(cfg.work_dir) / "ct" / "models",
        version=release.version,
    )
    scored = decay_score.score(model_dir, rows, metric)
    bound = cfg.continuous_training.decay_bound(metric)
    judge_decay(result, metric, span, scored.value, scored.count, bound, scored.why)


def judge_decay(
    result: CheckResult,
    metric: str,
    span: int,
    value: float,
    count: int,
    bound: float,
    why: str = "",
) -> None:
    """The released model's score on `span` against the decay bound, in the metric's direction:
    a reason to retrain, or a note. An undefined score (NaN) is a note that says decay was not
    measured and `why`, never a pass."""
    if math.isnan(value):
        result.notes.append(
            f"decay not measured: span {span} {why or 'cannot define it'}, so {metric} "
            f"is undefined there"
        )
    elif decay.decayed(value, bound, metric):
        result.reasons.append(
            f"decay: the released model's {metric} on span {span} is "
            f"{decay.reason(value, bound, metric)}; {count} labelled rows)"
        )
    else:
        result.notes.append(
            f"released model's {metric} on span {span}: {value:.4f} "
            f"({decay.bound_name(metric)} {bound})"
        )


def _labelled_rows(paths: list[str]) -> list:
    """Typed rows of a span with every column the label is made from; [] when unlabelled."""
    from pipeline import decay_score
    from store import rows as R

    schema = R.load_schema()
    needed = decay_score.label_inputs()
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
        out += [r for r in rows if all(r.get(k) for k in needed)]
    return out
