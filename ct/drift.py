"""Drift between spans: the newest span's distribution against the released model's training spans.

Per feature, with thresholds from models/schema/drift.yaml:
- numeric (INT, FLOAT): `jensen_shannon`, the Jensen-Shannon divergence (base 2, 0 = same, 1 =
  disjoint) of the two spans' shares in bins cut at the baseline's quantiles. Equal-mass bins
  follow the data where it is dense, so a x1.5 scale change moves mass across many edges, and no
  outlier decides the binning. With `zero_share`, exact zeros (trip_miles: a trip whose distance
  was not recorded) are left out of the bins and their share is a measure of its own, so a change
  in how often zero is recorded and a change in the distances themselves are told apart.
- categorical (BYTES): `l_infinity`, the largest change in any one value's share.
- the label (computed by the caller from its raw columns, as the Transform does): `l_infinity`
  over its classes, i.e. the change of the positive rate.
Both sides are computed here, the same way, from the spans' CSV files, so the pipeline's DriftGate
and `mlops ct check` judge identical numbers and neither needs a previous run's ML Metadata.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tensorflow_metadata.proto.v0 import schema_pb2

from core import verdicts
from core.errors import ConfigError, GateError
from core.paths import SCHEMA_DIR
from core.uris import is_remote, repo_relative

THRESHOLDS_FILE = SCHEMA_DIR / "drift.yaml"
MEASURES = {"l_infinity": "categorical (BYTES)", "jensen_shannon": "numeric (INT or FLOAT)"}
ZERO_SHARE = "zero_share"
QUANTILE_BINS = 20
REPORT_JSON = "drift.json"
REPORT_MARKDOWN = "drift.md"

# The label's values per row of a span's table (NaN where it cannot be computed); the caller
# owns the label's definition (models/), which this layer may not import.
LabelFn = Callable[[Any], np.ndarray]


@dataclass(frozen=True)
class Threshold:
    feature: str
    measure: str
    threshold: float
    zero_share: float | None = None  # numeric only: zeros measured apart, with this threshold
    label: bool = False  # the model's label, not a feature of the schema


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


def _number_in_unit_range(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= 1


def _parse_one(at: str, spec: Any, expected: str, numeric: bool) -> tuple[float, float | None]:
    allowed = {"measure", "threshold", "zero_share"} if numeric else {"measure", "threshold"}
    if not isinstance(spec, dict) or set(spec) - allowed:
        shape = "{measure, threshold[, zero_share]}" if numeric else "{measure, threshold}"
        raise ConfigError(f"{at}: expected {shape}, got {spec!r}")
    measure, threshold = spec.get("measure"), spec.get("threshold")
    if measure != expected:
        raise ConfigError(f"{at}.measure: expected {expected!r}, got {measure!r}")
    if not _number_in_unit_range(threshold):
        raise ConfigError(f"{at}.threshold: expected a number in [0, 1], got {threshold!r}")
    zero_share = spec.get("zero_share")
    if zero_share is not None and not _number_in_unit_range(zero_share):
        raise ConfigError(f"{at}.zero_share: expected a number in [0, 1], got {zero_share!r}")
    return float(spec["threshold"]), None if zero_share is None else float(zero_share)


def parse_thresholds(
    text: str,
    schema: schema_pb2.Schema,
    where: str = "models/schema/drift.yaml",
    label: str | None = None,
) -> list[Threshold]:
    """Check the file against the schema: a typo names the file, the feature and the field.

    `label` is the model's label name; the file's `label:` section may only measure that one.
    """
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {exc}") from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, dict):
        raise ConfigError(
            f"{where}: expected a mapping `features: {{name: {{measure, threshold}}}}`"
        )
    unknown = set(data) - {"features", "label"}
    if unknown:
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(sorted(unknown))} (known: features, label)"
        )
    types = {f.name: f.type for f in schema.feature}
    out = []
    for name, spec in features.items():
        at = f"{where}: features.{name}"
        if name not in types:
            raise ConfigError(
                f"{at}: no such feature in the schema (known: {', '.join(sorted(types))})"
            )
        categorical = types[name] == schema_pb2.BYTES
        expected = "l_infinity" if categorical else "jensen_shannon"
        if isinstance(spec, dict) and spec.get("measure") not in (None, expected):
            raise ConfigError(
                f"{at}.measure: {name} is {MEASURES[expected]}, so the measure is "
                f"{expected!r}, got {spec.get('measure')!r}"
            )
        threshold, zero_share = _parse_one(at, spec, expected, numeric=not categorical)
        out.append(Threshold(name, expected, threshold, zero_share))
    labels = data.get("label") or {}
    if not isinstance(labels, dict) or len(labels) > 1:
        raise ConfigError(
            f"{where}: label: expected one entry `{label or 'LABEL'}: {{measure: l_infinity, "
            f"threshold}}`, got {labels!r}"
        )
    for name, spec in labels.items():
        if name != label:
            raise ConfigError(
                f"{where}: label.{name}: the model's label is {label!r} "
                f"(models/features.py LABEL_KEY)"
            )
        threshold, _ = _parse_one(f"{where}: label.{name}", spec, "l_infinity", numeric=False)
        out.append(Threshold(name, "l_infinity", threshold, label=True))
    return out


def load_thresholds(
    schema: schema_pb2.Schema, path: Path | None = None, label: str | None = None
) -> tuple[str, list[Threshold]]:
    """`path`, by default THRESHOLDS_FILE as it is when called (as core.schema.load_schema)."""
    path = Path(path or THRESHOLDS_FILE)
    text = path.read_text()
    return text, parse_thresholds(text, schema, repo_relative(str(path)), label)


def read_table(paths: list[str], schema: schema_pb2.Schema) -> Any:
    """The spans' CSV files as one Arrow table, typed by the schema; None without files."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    kinds = {
        schema_pb2.INT: pa.int64(),
        schema_pb2.FLOAT: pa.float64(),
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


def numbers(table: Any, name: str) -> np.ndarray:
    """A column's present values as float64 (missing cells and absent columns left out)."""
    if table is None or name not in table.column_names:
        return np.zeros(0)
    values = table.column(name).to_numpy().astype(np.float64)
    return values[~np.isnan(values)]


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


def _strings(table: Any, name: str) -> list[bytes]:
    if table is None or name not in table.column_names:
        return []
    return [v for v in table.column(name).to_pylist() if v is not None]


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Base 2, so 0 (same shares) to 1 (no overlap)."""
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        inside = a > 0
        return float(np.sum(a[inside] * np.log2(a[inside] / m[inside])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def quantile_js(current: np.ndarray, baseline: np.ndarray) -> float:
    """JS divergence of the shares in bins cut at the baseline's quantiles.

    Each bin holds the values up to and including its upper edge, so a value the baseline holds
    often (hour 17, a common fare) stays in one bin on both sides.
    """
    if len(current) == 0 or len(baseline) == 0:
        return 0.0 if len(current) == len(baseline) else 1.0
    cuts = np.quantile(baseline, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1])
    edges = np.unique(cuts)

    def shares(values: np.ndarray) -> np.ndarray:
        bins = np.searchsorted(edges, values, side="left")
        return np.bincount(bins, minlength=len(edges) + 1) / len(values)

    return jensen_shannon(shares(current), shares(baseline))


def l_infinity(current: list[Any], baseline: list[Any]) -> float:
    """The largest change in any one value's share."""
    if not current or not baseline:
        return 0.0 if len(current) == len(baseline) else 1.0
    now = {v: n / len(current) for v, n in Counter(current).items()}
    before = {v: n / len(baseline) for v, n in Counter(baseline).items()}
    return max(abs(now.get(v, 0.0) - before.get(v, 0.0)) for v in now.keys() | before.keys())


def measure(
    current: Any, baseline: Any, thresholds: list[Threshold], label: LabelFn | None = None
) -> list[Drift]:
    """Every configured measure of the current table against the baseline table."""
    out = []
    for t in thresholds:
        if t.label:
            if label is None:
                raise ConfigError(
                    f"drift.yaml measures the label {t.feature!r}, but the caller did not say "
                    f"how to compute it"
                )
            now = label(current)
            before = label(baseline)
            value = l_infinity(now[~np.isnan(now)].tolist(), before[~np.isnan(before)].tolist())
            out.append(Drift(t.feature, t.measure, round(value, 6), t.threshold))
        elif t.measure == "l_infinity":
            value = l_infinity(_strings(current, t.feature), _strings(baseline, t.feature))
            out.append(Drift(t.feature, t.measure, round(value, 6), t.threshold))
        else:
            now, before = numbers(current, t.feature), numbers(baseline, t.feature)
            if t.zero_share is not None:
                share = abs(
                    (float(np.mean(now == 0)) if len(now) else 0.0)
                    - (float(np.mean(before == 0)) if len(before) else 0.0)
                )
                out.append(Drift(t.feature, ZERO_SHARE, round(share, 6), t.zero_share))
                now, before = now[now != 0], before[before != 0]
            value = quantile_js(now, before)
            out.append(Drift(t.feature, t.measure, round(value, 6), t.threshold))
    return out


def count_note(span: int | None, examples: int, min_examples: int) -> str:
    """Why a span is too small to train on, or "" when it is not."""
    if examples >= min_examples:
        return ""
    if examples == 0:
        return f"no examples in span {span}"
    return (
        f"span {span} has {examples} examples, below the minimum {min_examples} (data.min_examples)"
    )


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
    label: LabelFn | None = None,
) -> Verdict:
    """The gate's decision, without raising: PASS, WARN, FAIL, or SKIPPED without a baseline."""
    current = read_table(current_paths, schema)
    examples = current.num_rows if current is not None else 0
    verdict = Verdict(
        verdicts.Verdict.PASS, mode, span, baseline_spans, examples, min_examples, [], note
    )
    if examples < min_examples:
        verdict.verdict = verdicts.Verdict.FAIL
        verdict.note = count_note(span, examples, min_examples)
        return verdict
    if not baseline_paths:
        verdict.verdict = verdicts.Verdict.SKIPPED
        return verdict
    baseline = read_table(baseline_paths, schema)
    verdict.measures = measure(current, baseline, thresholds, label)
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
