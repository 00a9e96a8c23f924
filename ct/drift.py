"""Drift between spans: the newest span's statistics against the released model's training spans.

The measures are TFDV's drift comparators (L-infinity distance for categorical features,
Jensen-Shannon divergence for numeric ones), with per-feature thresholds from
models/schema/drift.yaml. Both sides are computed here, the same way, from the spans' CSV
files, so the pipeline's DriftGate and `mlops ct check` judge identical numbers and neither needs
a previous run's ML Metadata.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from tensorflow_metadata.proto.v0 import schema_pb2

from core import verdicts
from core.errors import ConfigError, GateError
from core.paths import SCHEMA_DIR
from core.uris import is_remote

THRESHOLDS_FILE = SCHEMA_DIR / "drift.yaml"
MEASURES = {"l_infinity": "categorical (BYTES)", "jensen_shannon": "numeric (INT or FLOAT)"}
HISTOGRAM_BUCKETS = 20
REPORT_JSON = "drift.json"
REPORT_MARKDOWN = "drift.md"


@dataclass(frozen=True)
class Threshold:
    feature: str
    measure: str
    threshold: float
    clip: tuple[float, float] | None = None


@dataclass(frozen=True)
class Drift:
    feature: str
    measure: str
    value: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.value > self.threshold

    def line(self) -> str:
        return (
            f"{self.feature}: {self.measure} {self.value:.4f} > threshold {self.threshold}"
            if self.drifted
            else f"{self.feature}: {self.measure} {self.value:.4f} <= threshold {self.threshold}"
        )


@dataclass
class Verdict:
    """What the gate decided; also the JSON report's content."""

    verdict: str  # PASS, WARN (drift, mode warn), FAIL (drift, mode stop), SKIPPED (no baseline)
    mode: str
    span: int | None
    baseline_spans: list[int]
    examples: int
    min_examples: int
    measures: list[Drift]
    note: str = ""

    @property
    def drifted(self) -> list[Drift]:
        return [d for d in self.measures if d.drifted]

    def to_json(self) -> str:
        body = asdict(self)
        body["drifted"] = [asdict(d) for d in self.drifted]
        return json.dumps(body, indent=1)

    def markdown(self) -> str:
        out = [f"## Drift: {self.verdict}", ""]
        out.append(
            f"Span {self.span} ({self.examples} examples, minimum {self.min_examples}) "
            f"against span(s) {', '.join(map(str, self.baseline_spans)) or '-'} "
            f"(mode {self.mode})."
        )
        if self.note:
            out += ["", self.note]
        if self.measures:
            out += ["", table(self.measures)]
        return "\n".join(out) + "\n"


class DriftError(GateError):
    """The drift gate stopped the run; carries the verdict so the runner can keep the report."""

    def __init__(self, message: str, verdict: Verdict) -> None:
        super().__init__(message)
        self.verdict = verdict


def table(measures: list[Drift]) -> str:
    lines = ["| feature | measure | value | threshold | drifted |", "|---|---|---|---|---|"]
    lines += [
        f"| {d.feature} | {d.measure} | {d.value:.4f} | {d.threshold} | "
        f"{'yes' if d.drifted else 'no'} |"
        for d in measures
    ]
    return "\n".join(lines)


def parse_thresholds(
    text: str, schema: schema_pb2.Schema, where: str = "models/schema/drift.yaml"
) -> list[Threshold]:
    """Check the file against the schema: a typo names the file, the feature and the field."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, dict):
        raise ConfigError(
            f"{where}: expected a mapping `features: {{name: {{measure, threshold}}}}`"
        )
    types = {f.name: f.type for f in schema.feature}
    out = []
    for name, spec in features.items():
        at = f"{where}: features.{name}"
        if name not in types:
            raise ConfigError(
                f"{at}: no such feature in the schema (known: {', '.join(sorted(types))})"
            )
        if not isinstance(spec, dict) or set(spec) - {"measure", "threshold", "clip"}:
            raise ConfigError(f"{at}: expected {{measure, threshold[, clip]}}, got {spec!r}")
        measure, threshold, clip = spec.get("measure"), spec.get("threshold"), spec.get("clip")
        categorical = types[name] == schema_pb2.BYTES
        expected = "l_infinity" if categorical else "jensen_shannon"
        if measure != expected:
            raise ConfigError(
                f"{at}.measure: {name} is {MEASURES[expected]}, so the measure is "
                f"{expected!r}, got {measure!r}"
            )
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int | float)
            or not 0 <= threshold <= 1
        ):
            raise ConfigError(f"{at}.threshold: expected a number in [0, 1], got {threshold!r}")
        if categorical and clip is not None:
            raise ConfigError(f"{at}.clip: only numeric features are clipped, got {clip!r}")
        if not categorical:
            if not (
                isinstance(clip, list)
                and len(clip) == 2
                and all(isinstance(v, int | float) for v in clip)
                and clip[0] < clip[1]
            ):
                raise ConfigError(f"{at}.clip: expected [low, high] with low < high, got {clip!r}")
            clip = (float(clip[0]), float(clip[1]))
        out.append(Threshold(name, measure, float(threshold), clip))
    return out


def load_thresholds(
    schema: schema_pb2.Schema, path: Path = THRESHOLDS_FILE
) -> tuple[str, list[Threshold]]:
    text = Path(path).read_text()
    return text, parse_thresholds(
        text,
        schema,
        str(path.relative_to(SCHEMA_DIR.parent.parent))
        if path.is_relative_to(SCHEMA_DIR.parent.parent)
        else str(path),
    )


def _read_table(paths: list[str], schema: schema_pb2.Schema) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    kinds = {
        schema_pb2.INT: pa.int64(),
        schema_pb2.FLOAT: pa.float32(),
        schema_pb2.BYTES: pa.binary(),
    }
    options = pacsv.ConvertOptions(
        column_types={f.name: kinds[f.type] for f in schema.feature}, strings_can_be_null=True
    )
    tables = []
    for path in paths:
        if is_remote(path):
            import tensorflow as tf

            with tf.io.gfile.GFile(path, "rb") as f:
                source: Any = pa.BufferReader(f.read())
        else:
            source = path
        try:
            tables.append(pacsv.read_csv(source, convert_options=options))
        except pa.ArrowInvalid as exc:
            raise _unreadable(path, schema, exc) from None
    return pa.concat_tables(tables, promote=True) if tables else None


def _unreadable(path: str, schema: schema_pb2.Schema, exc: Exception) -> ConfigError:
    """A data file Arrow cannot type, told as file, line, field and value (exit 2): Arrow names
    only a column number. The row reader finds the first bad cell; remote files keep Arrow's
    words."""
    from store import rows as R

    if not is_remote(path):
        try:
            R.read_csv(Path(path), schema, serving=False)
        except (R.RowError, OSError) as found:
            return ConfigError(f"data file {found}")
    return ConfigError(f"data file {path}: not CSV with the schema's types: {exc}")


def statistics(
    paths: list[str], schema: schema_pb2.Schema, thresholds: list[Threshold]
) -> tuple[Any, int]:
    """TFDV statistics of the CSV files (numeric drift features clipped), and the row count."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import tensorflow_data_validation as tfdv
    from tensorflow_data_validation.statistics import stats_impl

    table = _read_table(paths, schema)
    if table is None or table.num_rows == 0:
        return None, 0
    clips = {t.feature: t.clip for t in thresholds if t.clip}
    names = [n for n in table.column_names if n in {t.feature for t in thresholds}]
    columns = []
    for name in names:
        values = table.column(name).combine_chunks()
        if name in clips:
            low, high = (pa.scalar(v).cast(values.type) for v in clips[name])
            values = pc.max_element_wise(pc.min_element_wise(values, high), low)
        present = np.asarray(values.is_valid())
        offsets = pa.array(np.concatenate([[0], np.cumsum(present)]).astype(np.int32))
        columns.append(pa.ListArray.from_arrays(offsets, values.filter(values.is_valid())))
    batch = pa.RecordBatch.from_arrays(columns, names)
    options = tfdv.StatsOptions(num_histogram_buckets=HISTOGRAM_BUCKETS)
    return stats_impl.generate_statistics_in_memory(batch, options), table.num_rows


def measure(
    current: Any, baseline: Any, schema: schema_pb2.Schema, thresholds: list[Threshold]
) -> list[Drift]:
    """Every configured feature's drift value, via TFDV's comparators (drift_skew_info)."""
    import tensorflow_data_validation as tfdv

    with_comparators = schema_pb2.Schema()
    by_name = {t.feature: t for t in thresholds}
    for feature in schema.feature:
        if feature.name not in by_name:
            continue
        f = with_comparators.feature.add()
        f.name, f.type = feature.name, feature.type
        comparator = f.drift_comparator
        if by_name[feature.name].measure == "l_infinity":
            comparator.infinity_norm.threshold = by_name[feature.name].threshold
        else:
            comparator.jensen_shannon_divergence.threshold = by_name[feature.name].threshold
    anomalies = tfdv.validate_statistics(current, with_comparators, previous_statistics=baseline)
    values = {
        info.path.step[0]: info.drift_measurements[0].value
        for info in anomalies.drift_skew_info
        if info.drift_measurements
    }
    return [
        Drift(t.feature, t.measure, round(float(values.get(t.feature, 0.0)), 6), t.threshold)
        for t in thresholds
    ]


def judge(
    current_paths: list[str],
    baseline_paths: list[str],
    schema: schema_pb2.Schema,
    thresholds: list[Threshold],
    *,
    mode: str,
    span: int | None,
    baseline_spans: list[int],
    min_examples: int,
    note: str = "",
) -> Verdict:
    """The gate's decision, without raising: PASS, WARN, FAIL, or SKIPPED without a baseline."""
    current, examples = statistics(current_paths, schema, thresholds)
    verdict = Verdict(
        verdicts.Verdict.PASS, mode, span, baseline_spans, examples, min_examples, [], note
    )
    if examples < min_examples:
        verdict.verdict = verdicts.Verdict.FAIL
        verdict.note = (
            f"no examples in span {span}"
            if examples == 0
            else f"span {span} has {examples} examples, below the minimum {min_examples} "
            f"(data.min_examples)"
        )
        return verdict
    if not baseline_paths:
        verdict.verdict = verdicts.Verdict.SKIPPED
        return verdict
    baseline, _ = statistics(baseline_paths, schema, thresholds)
    verdict.measures = measure(current, baseline, schema, thresholds)
    if verdict.drifted:
        verdict.verdict = verdicts.Verdict.FAIL if mode == "stop" else verdicts.Verdict.WARN
    return verdict


def write_report(verdict: Verdict, out_dir: str | Path) -> None:
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    Path(out_dir, REPORT_JSON).write_text(verdict.to_json())
    Path(out_dir, REPORT_MARKDOWN).write_text(verdict.markdown())


def read_report(out_dir: str | Path) -> dict[str, Any] | None:
    path = Path(out_dir, REPORT_JSON)
    return json.loads(path.read_text()) if path.exists() else None
