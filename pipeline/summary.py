"""The end-of-run summary: what ran, what the data gate said, how the model scored, what shipped.

Everything is read back from ML Metadata and the run's artifacts (not from the runner's memory),
so the summary describes what the pipeline recorded. It is printed for people and written as JSON
next to the run for CI job summaries.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core import metrics
from core.config import EnvironmentConfig
from core.provenance import git_commit, run_url
from core.uris import repo_relative
from core.verdicts import Verdict
from pipeline.progress import NodeProgress
from pipeline.reports import drift_report_dir

SUMMARY_FILE = "run_summary.json"


@dataclass
class MetricRow:
    """One slice's metrics. A metric TFMA could not define there is None, with the reason in
    `undefined` (AUC on a slice with one class), never a number."""

    slice: str
    metrics: dict[str, float | None]
    baseline: dict[str, float | None] = field(default_factory=dict)
    undefined: dict[str, str] = field(default_factory=dict)  # metric -> why it has no value

    @property
    def sort_key(self) -> tuple[str, float, str]:
        """By feature, then numerically where the slice value is a number (hour 2 before 10)."""
        column, _, value = self.slice.partition("=")
        try:
            return column, float(value), ""
        except ValueError:
            return column, 0.0, value


@dataclass
class RunSummary:
    environment: str
    pipeline_name: str
    components: list[dict[str, Any]]
    data_validation: str
    anomalies: list[dict[str, Any]]
    has_baseline: bool = False
    blessed: bool | None = None
    blessing_failures: list[str] = field(default_factory=list)
    overall: MetricRow | None = None
    slices: list[MetricRow] = field(default_factory=list)
    pushed: bool = False
    new_version: bool = False
    pushed_version: str | None = None
    pushed_path: str | None = None
    model_digest: str | None = None
    gated_metric: str = ""
    # The ML Metadata pipeline run that trained the model this summary names: an earlier run when
    # this one reused the Trainer from cache; this run's own when nothing was trained. Release
    # records copy it, so it must name where the model came from, not the re-run that found it.
    pipeline_run: str = ""
    current_run: str = ""  # this run's pipeline_run context
    spans: list[int] = field(default_factory=list)  # the training window (Transform's inputs)
    eval_span: int | None = None  # the newest span: data gate, drift gate, evaluation
    data_root: str = ""
    drift: dict[str, Any] | None = None  # the drift gate's report (ct/drift.py)
    source_commit: str = ""
    baseline_release: str = ""  # which release the regression gate compared against
    baseline_note: str = ""  # or why there was none
    warnings: list[str] = field(default_factory=list)  # about the input, e.g. empty span folders
    # Slice thresholds skipped because the slice's metric is undefined (components.evaluator).
    skipped_thresholds: list[dict[str, str]] = field(default_factory=list)
    run_url: str = ""  # the CI run whose artifacts hold this run's report (report.html)

    def write(self, cfg: EnvironmentConfig) -> Path:
        out = Path(cfg.paths.pipeline_root).parent / SUMMARY_FILE
        out.write_text(self.to_json())
        return out

    def to_json(self) -> str:
        """Strict JSON: a metric TFMA could not compute (NaN, infinite) is written as null."""
        return json.dumps(_finite_or_null(asdict(self)), indent=1, default=str, allow_nan=False)

    def render(self) -> str:
        out = [f"\n== Run summary: {self.pipeline_name} ({self.environment}) =="]
        out.extend(f"Warning: {warning}" for warning in self.warnings)
        ran = [c["id"] for c in self.components if c["status"] == "ran"]
        cached = [c["id"] for c in self.components if c["status"] == "cached"]
        resolved = [c["id"] for c in self.components if c["status"] == "resolved"]
        out.append(
            f"Components: {len(ran)} ran, {len(cached)} cached"
            + (f", {len(resolved)} resolved" if resolved else "")
            + (f"; ran: {', '.join(ran)}" if ran and cached else "")
        )
        out.append(
            f"Data validation: {self.data_validation}"
            + (f", {len(self.anomalies)} anomalies" if self.anomalies else "")
        )
        out.extend(self._drift_lines())
        if self.spans:
            out.append(
                f"Training spans: {_spans(self.spans)} (window of {len(self.spans)}); "
                f"evaluated on span {self.eval_span}"
            )
        if self.overall is not None:
            out.append("Evaluation (eval split):")
            if self.baseline_release:
                out.append(f"  baseline: {self.baseline_release}")
            if not self.has_baseline:
                why = self.baseline_note or "no released model to compare against"
                out.append(f"  no baseline ({why}), so only the value threshold applies")
            out.extend(_metric_table(self.overall, self.gated_metric, self.has_baseline))
            if self.slices:
                out.append(f"  {self.gated_metric} by slice:")
                for row in self.slices:
                    shown = _shown(row, self.gated_metric)
                    if self.gated_metric in row.undefined:
                        shown = f"  {shown}"  # starts where the digits of a value start
                    count = row.metrics.get("example_count") or 0
                    out.append(f"    {row.slice:<34} {shown:>8}  (n={int(count)})")
            for note in self.skipped_thresholds:
                out.append(
                    f"  threshold skipped: {note['metric']} on {note['slice']} is undefined "
                    f"({note['reason']}), so that slice's threshold was not checked"
                )
        if self.blessed is True:
            out.append("Model validation: BLESSED")
        elif self.blessed is False:
            out.append("Model validation: NOT BLESSED, because:")
            out.extend(f"  - {reason}" for reason in self.blessing_failures)
        if self.pushed and self.new_version:
            out.append(f"Pushed: version {self.pushed_version} -> {self.pushed_path}")
        elif self.pushed:
            out.append(
                f"Pushed: nothing new; version {self.pushed_version} already serves this "
                f"exact model ({self.pushed_path})"
            )
        elif self.blessed is False:
            out.append("Pushed: nothing (the model was not blessed)")
        if self.model_digest:
            out.append(f"Model digest: {self.model_digest}")
        return "\n".join(out)

    def _drift_lines(self) -> list[str]:
        if not self.drift:
            return []
        d = self.drift
        against = _spans(d["baseline_spans"]) or "-"
        out = [
            f"Drift: {d['verdict']} (span {d['span']} against span(s) {against}, "
            f"mode {d['mode']}, {d['examples']} examples)"
        ]
        if d.get("note"):
            out.append(f"  {d['note']}")
        if d.get("drifted"):  # the whole table, so the drifted rows read against the others
            out.append(f"  {'feature':<26}{'measure':<16}{'value':>8}  threshold")
            for m in d.get("measures", []):
                drifted = m["value"] > m["threshold"]
                out.append(
                    f"  {m['feature']:<26}{m['measure']:<16}{m['value']:>8.4f}  "
                    f"{'>' if drifted else '<='} {m['threshold']}{'  DRIFTED' if drifted else ''}"
                )
        if d["verdict"] == Verdict.WARN:
            out.append("  drift.mode is warn: the run went on")
        return out

    def markdown(self) -> str:
        """For a GitHub Actions job summary: verdicts and metrics against the baseline."""
        blessed = {True: "BLESSED", False: "NOT BLESSED", None: "not evaluated"}[self.blessed]
        out = [
            f"### Pipeline run: {self.pipeline_name} ({self.environment})",
            "",
            f"- Data validation: **{self.data_validation}**"
            + (f" ({len(self.anomalies)} anomalies)" if self.anomalies else ""),
            *[f"- {line.strip()}" for line in self._drift_lines()],
            *(
                [f"- Training spans: {_spans(self.spans)}, evaluated on span {self.eval_span}"]
                if self.spans
                else []
            ),
            f"- Model validation: **{blessed}**",
        ]
        out += [f"  - {reason}" for reason in self.blessing_failures]
        if self.pushed_version:
            out.append(f"- Pushed: version {self.pushed_version} (`{self.model_digest}`)")
        if self.overall is not None:
            out += ["", "| metric | candidate | baseline |", "|---|---|---|"]
            for name in sorted(self.overall.metrics):
                mark = " (gated)" if name == self.gated_metric else ""
                base = self.overall.baseline.get(name)
                out.append(f"| {name}{mark} | {_shown(self.overall, name)} | {_fmt(base)} |")
        return "\n".join(out) + "\n"


def _spans(numbers: list[int]) -> str:
    from ct.spans import describe

    return describe(numbers)


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _shown(row: MetricRow, name: str) -> str:
    """The value, or `undefined (one class)`: a metric without a value is never shown as 0."""
    if name in row.undefined:
        return f"undefined ({row.undefined[name]})"
    return _fmt(row.metrics.get(name))


def _metric_table(row: MetricRow, gated: str, has_baseline: bool) -> list[str]:
    from models.evaluation import METRIC_CLASSES

    names = [n for n in (*METRIC_CLASSES, "example_count") if n in row.metrics]
    lines = [
        f"  {'metric':<18}{'candidate':>10}"
        + (f"{'baseline':>10}{'change':>10}" if has_baseline else "")
    ]
    for name in names:
        value = row.metrics[name]
        label = f"  {name + (' *' if name == gated else ''):<18}"
        if name in row.undefined:
            lines.append(f"{label}{_shown(row, name)}")
            continue
        shown = f"{int(value or 0)}" if name == "example_count" else _fmt(value)
        line = f"{label}{shown:>10}"
        base = row.baseline.get(name)
        if has_baseline and name != "example_count" and value is not None and base is not None:
            line += f"{_fmt(base):>10}{value - base:>+10.4f}"
        lines.append(line)
    # An error such as rmse improves downwards: its change column reads the other way round.
    lines.append("  (* gated metric, lower is better)" if _lower(gated) else "  (* gated metric)")
    return lines


def _lower(metric: str) -> bool:
    return metric in metrics.GATED_METRICS and metrics.lower_is_better(metric)


def slice_name(slice_key: Any) -> str:
    parts = []
    for key in slice_key.single_slice_keys:
        value = key.WhichOneof("kind")
        raw = getattr(key, value) if value else ""
        parts.append(f"{key.column}={raw.decode() if isinstance(raw, bytes) else raw}")
    return ", ".join(parts) or "overall"


def why_undefined(metric: str) -> str:
    """Why TFMA left `metric` without a value (NaN) on a slice."""
    from models.evaluation import WHY_UNDEFINED

    return WHY_UNDEFINED.get(metric, "not computable")


def read_skipped_thresholds(uri: str) -> list[dict[str, str]]:
    """The slice thresholds the Evaluator skipped because the slice's metric is undefined."""
    from components.evaluator import read_skipped

    return [
        {
            "slice": slice_name(per_slice.slice_key),
            "metric": failure.metric_key.name,
            "reason": why_undefined(failure.metric_key.name),
        }
        for per_slice in read_skipped(uri).metric_validations_per_slice
        for failure in per_slice.failures
    ]


def read_evaluation(uri: str) -> tuple[MetricRow | None, list[MetricRow], bool]:
    """Overall and per-slice metrics of the candidate, with the baseline's where present."""
    import tensorflow_model_analysis as tfma

    overall, slices, has_baseline = None, [], False
    for per_slice in tfma.load_metrics(uri):
        row = MetricRow(slice=slice_name(per_slice.slice_key), metrics={})
        for kv in per_slice.metric_keys_and_values:
            if kv.key.is_diff:
                continue
            value = kv.value.double_value.value if kv.value.HasField("double_value") else None
            if value is None:
                continue
            defined = value if math.isfinite(value) else None
            if kv.key.model_name == "baseline":
                row.baseline[kv.key.name] = defined
                has_baseline = True
            else:
                row.metrics[kv.key.name] = defined
                if defined is None:
                    row.undefined[kv.key.name] = why_undefined(kv.key.name)
        if row.slice == "overall":
            overall = row
        else:
            slices.append(row)
    slices.sort(key=lambda r: r.sort_key)
    return overall, slices, has_baseline


def bound_of(name: str, threshold: Any) -> tuple[bool, float]:
    """Whether a value threshold on `name` is a ceiling (an error such as rmse), and its value.

    core.metrics decides for a metric the gates know; for any other metric (a team's own
    threshold), the bound TFMA's threshold holds.
    """
    values = threshold.value_threshold
    if name in metrics.GATED_METRICS:
        ceiling = metrics.lower_is_better(name)
    else:
        ceiling = values.HasField("upper_bound") and not values.HasField("lower_bound")
    return ceiling, (values.upper_bound.value if ceiling else values.lower_bound.value)


def _missed(name: str, threshold: Any) -> str:
    """How a value missed its bound: below a floor, or above a ceiling."""
    ceiling, bound = bound_of(name, threshold)
    if ceiling:
        return f"above the ceiling {bound} (evaluation.upper_bound)"
    return f"below the floor {bound} (evaluation.lower_bound)"


def _cannot_clear(name: str, threshold: Any) -> str:
    ceiling, bound = bound_of(name, threshold)
    if ceiling:
        return f"it cannot be held under the ceiling {bound} (evaluation.upper_bound)"
    return f"it cannot clear the floor {bound} (evaluation.lower_bound)"


def read_blessing_failures(uri: str) -> list[str]:
    """One line per failed threshold: metric, slice, value and the rule it broke."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_validation_result(uri)
    reasons = []
    for per_slice in result.metric_validations_per_slice:
        where = slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            name = failure.metric_key.name
            threshold = failure.metric_threshold
            if not failure.metric_value.HasField("double_value"):
                # TFMA fails a threshold whose metric it did not compute, with no value.
                reasons.append(
                    f"{name} on {where} has no value to check against its threshold "
                    f"(TFMA: {failure.message.strip() or 'no value'}); check "
                    f"evaluation.metric"
                )
                continue
            value = failure.metric_value.double_value.value
            if not math.isfinite(value):
                # Undefined (NaN): no number was compared; the threshold failed closed.
                rule = (
                    "its change against the baseline cannot be checked (evaluation.max_regression)"
                    if failure.metric_key.is_diff
                    else _cannot_clear(name, threshold)
                )
                why = why_undefined(name)
                hint = (
                    "; the eval split needs examples of both classes" if why == "one class" else ""
                )
                reasons.append(f"{name} on {where} is undefined ({why}), so {rule}{hint}")
                continue
            if failure.metric_key.is_diff:
                allowed = threshold.change_threshold.absolute.value
                reasons.append(
                    f"{name} on {where} changed by {value:+.4f} against the baseline; "
                    f"the environment allows at most {allowed:+.4f} "
                    f"(evaluation.max_regression)"
                )
            else:
                reasons.append(f"{name} on {where} is {_fmt(value)}, {_missed(name, threshold)}")
    if result.missing_thresholds:
        reasons.append(
            "TFMA found no threshold to validate against; check the evaluation "
            "section (evaluation.metric)"
        )
    for spec in result.missing_slices:
        reasons.append(
            f"the thresholded slice {list(spec.feature_keys) or 'overall'} had no "
            f"examples in the eval split"
        )
    if not reasons and not result.validation_ok:
        reasons.append(
            f"TFMA reported the validation as failed without a per-metric reason; see {uri}"
        )
    return reasons


def _metadata_store(cfg: EnvironmentConfig) -> Any:
    import ml_metadata as mlmd
    from tfx.orchestration import metadata

    return mlmd.MetadataStore(metadata.sqlite_metadata_connection_config(cfg.paths.metadata))


def trained_in(store: Any, model_id: int) -> str:
    """The pipeline run whose Trainer produced the model artifact `model_id`.

    A run that reuses the Trainer from cache records a CACHED execution with the same artifact as
    its output; the run that trained it is the one whose execution completed (not CACHED).
    """
    import ml_metadata as mlmd

    output = mlmd.proto.Event.OUTPUT
    producers = sorted(
        e.execution_id for e in store.get_events_by_artifact_ids([model_id]) if e.type == output
    )
    for execution in sorted(store.get_executions_by_id(producers), key=lambda e: e.id):
        if execution.last_known_state == mlmd.proto.Execution.COMPLETE:
            for context in store.get_contexts_by_execution(execution.id):
                if context.type == "pipeline_run":
                    return context.name
    return ""


def _outputs_of_latest_run(
    cfg: EnvironmentConfig, inputs: bool = False
) -> tuple[str, dict[str, dict[str, list[Any]]]]:
    """The newest run's id, and node id -> output key -> artifacts for that run (or inputs)."""
    import ml_metadata as mlmd

    store = _metadata_store(cfg)
    runs = store.get_contexts_by_type("pipeline_run")
    pipeline_ctx = store.get_context_by_type_and_name("pipeline", cfg.pipeline_name)
    if not runs or pipeline_ctx is None:
        return "", {}
    pipeline_execs = {e.id for e in store.get_executions_by_context(pipeline_ctx.id)}
    run_ctx = max(runs, key=lambda c: c.id)
    executions = [e for e in store.get_executions_by_context(run_ctx.id) if e.id in pipeline_execs]
    result: dict[str, dict[str, list[Any]]] = {}
    for execution in executions:
        node_ids = [
            c.name.split(".", 1)[-1]
            for c in store.get_contexts_by_execution(execution.id)
            if c.type == "node"
        ]
        if not node_ids:
            continue
        kind = mlmd.proto.Event.INPUT if inputs else mlmd.proto.Event.OUTPUT
        events = [e for e in store.get_events_by_execution_ids([execution.id]) if e.type == kind]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        outputs = result.setdefault(node_ids[0], {})
        for event in events:
            key = event.path.steps[0].key if event.path.steps else ""
            outputs.setdefault(key, []).append(artifacts[event.artifact_id])
    return run_ctx.name, result


def _prop(artifact: Any, name: str) -> Any:
    if name not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[name]
    return getattr(value, value.WhichOneof("value"))


def _read_spans_and_drift(
    cfg: EnvironmentConfig, summary: RunSummary, outputs: dict[str, dict[str, list[Any]]]
) -> None:
    """The window Transform read, the span ingested, and the drift gate's report (kept as files
    in <run>/drift/ like the data gate's)."""
    import shutil

    from ct import drift

    summary.data_root = repo_relative(cfg.data.root)
    examples = outputs.get("CsvExampleGen", {}).get("examples", [])
    if examples:
        summary.eval_span = _prop(examples[0], "span")
    _, inputs = _outputs_of_latest_run(cfg, inputs=True)
    window = inputs.get("Transform", {}).get("examples", [])
    summary.spans = sorted({int(_prop(a, "span")) for a in window})
    report = outputs.get("DriftGate", {}).get("report", [])
    # A gate that stopped the run has its output registered but its files removed by TFX.
    if report and drift.read_report(report[0].uri) is not None:
        summary.drift = drift.read_report(report[0].uri)
        kept = drift_report_dir(cfg)
        kept.mkdir(parents=True, exist_ok=True)
        for name in (drift.REPORT_JSON, drift.REPORT_MARKDOWN):
            shutil.copyfile(Path(report[0].uri, name), kept / name)


def _finite_or_null(value: Any) -> Any:
    """NaN and +-Infinity are not JSON (`JSON.parse` rejects them): they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_null(v) for v in value]
    return value


def summarize(
    cfg: EnvironmentConfig, nodes: dict[str, NodeProgress], write: bool = True
) -> RunSummary:
    """`write=False` for a run a gate stopped: run_summary.json keeps describing the last run
    that finished, whose pushed model `mlops promote` may still take."""
    from components.data_gate import REPORT_JSON

    run_name, outputs = _outputs_of_latest_run(cfg)
    summary = RunSummary(
        environment=cfg.name,
        pipeline_name=cfg.pipeline_name,
        gated_metric=cfg.evaluation.metric,
        components=[
            {
                "id": n.node_id,
                "status": n.status,
                "seconds": round(n.seconds, 1),
                "cpu_seconds": round(n.cpu_seconds, 1),
            }
            for n in nodes.values()
        ],
        data_validation="not run",
        anomalies=[],
        pipeline_run=run_name,
        current_run=run_name,
        source_commit=git_commit(),
        run_url=run_url(),
    )
    model = outputs.get("Trainer", {}).get("model", [])
    if model:
        summary.pipeline_run = trained_in(_metadata_store(cfg), model[0].id) or run_name
    _read_spans_and_drift(cfg, summary, outputs)
    report = outputs.get("DataGate", {}).get("report", [])
    if report and Path(report[0].uri, REPORT_JSON).exists():  # absent when the gate stopped
        data = json.loads(Path(report[0].uri, REPORT_JSON).read_text())
        summary.data_validation, summary.anomalies = data["verdict"], data["anomalies"]
    evaluation = outputs.get("Evaluator", {}).get("evaluation", [])
    if evaluation:
        summary.overall, summary.slices, summary.has_baseline = read_evaluation(evaluation[0].uri)
        summary.skipped_thresholds = read_skipped_thresholds(evaluation[0].uri)
    blessing = outputs.get("Evaluator", {}).get("blessing", [])
    if blessing:
        summary.blessed = _prop(blessing[0], "blessed") == 1
        if not summary.blessed and evaluation:
            summary.blessing_failures = read_blessing_failures(evaluation[0].uri)
    pushed = outputs.get("Pusher", {}).get("pushed_model", [])
    if pushed and _prop(pushed[0], "pushed") == 1:
        summary.pushed = True
        summary.pushed_version = _prop(pushed[0], "pushed_version")
        summary.pushed_path = _prop(pushed[0], "pushed_destination")
        summary.model_digest = _prop(pushed[0], "model_digest")
        pusher_node = nodes.get("Pusher")
        summary.new_version = bool(
            pusher_node and not pusher_node.cached and _prop(pushed[0], "reused_version") != 1
        )
    if write:
        summary.write(cfg)
    return summary
