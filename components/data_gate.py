"""The data gate: turn ExampleValidator's anomalies into a stop.

Upstream templates compute anomalies and carry on training anyway. Here Transform and Trainer run
only after this component succeeds, and it fails whenever any split has an anomaly, with a report
(JSON for machines, Markdown for people) that names each feature, the kind of anomaly, and why.

`validate_span` is the same gate outside the pipeline (`mlops ct check`): the span's CSV files
go through CsvExampleGen's own conversion, StatisticsGen's statistics and ExampleValidator's
check against the curated schema, so the check refuses exactly the spans a run would refuse.
"""

# No `from __future__ import annotations`: the @component decorator reads real type objects.
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2
from tfx.dsl.component.experimental.annotations import InputArtifact, OutputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact, artifact_utils, standard_artifacts

from core.errors import GateError
from core.verdicts import Verdict

SCHEMA_DIFF_FILE = "SchemaDiff.pb"
REPORT_JSON = "anomalies.json"
REPORT_MARKDOWN = "anomalies.md"


class DataValidationReport(artifact.Artifact):
    """Where the gate's verdict and report live; its presence means the data passed."""

    # Namespaced: Vertex AI Pipelines only accepts custom types named `package.TypeName`.
    TYPE_NAME = "tfx_template.DataValidationReport"


@dataclass(frozen=True)
class Anomaly:
    split: str
    feature: str
    kinds: list[str]
    description: str


class DataValidationError(GateError):
    """The data gate found anomalies; the run stops before Transform.

    It carries the anomalies because TFX deletes a failed execution's outputs: whoever catches it
    writes the report somewhere that outlives the run (see pipeline.runner).
    """

    def __init__(self, message: str, anomalies: list[Anomaly]) -> None:
        super().__init__(message)
        self.anomalies = anomalies


def anomalies_of(proto: anomalies_pb2.Anomalies, split: str) -> list[Anomaly]:
    """One Anomaly per feature (and one for the dataset) of TFDV's verdict on one split."""
    found: list[Anomaly] = []
    for feature, info in sorted(proto.anomaly_info.items()):
        kinds = sorted({anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason})
        text = "; ".join(r.description for r in info.reason) or info.description
        found.append(Anomaly(split, feature, kinds, f"{info.short_description}: {text}"))
    if proto.HasField("dataset_anomaly_info"):
        info = proto.dataset_anomaly_info
        found.append(
            Anomaly(
                split,
                "(dataset)",
                [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in info.reason],
                info.description,
            )
        )
    return found


def read_anomalies(
    anomalies_uri: str,
    split_names: list[str],
    statistics: dict[str, statistics_pb2.DatasetFeatureStatisticsList] | None = None,
    schema: schema_pb2.Schema | None = None,
) -> list[Anomaly]:
    """Anomalies per split from an ExampleAnomalies artifact directory; with each split's
    statistics and the schema, whole-number columns are judged against their FLOAT domain."""
    found: list[Anomaly] = []
    for split in split_names:
        proto = anomalies_pb2.Anomalies()
        path = Path(anomalies_uri, f"Split-{split}", SCHEMA_DIFF_FILE)
        proto.ParseFromString(path.read_bytes())
        anomalies = anomalies_of(proto, split)
        if statistics is not None and schema is not None and split in statistics:
            anomalies = explain_whole_numbers(anomalies, statistics[split], schema)
        found += anomalies
    return found


WHOLE_NUMBERS = (
    "every value in the column is a whole number, so CsvExampleGen read it as INT while the "
    "schema and the Transform read FLOAT; write the values with a decimal point (2.0, not 2)"
)


def _whole_number_floats(
    statistics: statistics_pb2.DatasetFeatureStatisticsList, schema: schema_pb2.Schema
) -> set[str]:
    """FLOAT features of the schema that CsvExampleGen typed INT (a column of whole numbers)."""
    floats = {f.name for f in schema.feature if f.type == schema_pb2.FLOAT}
    return {
        f.path.step[0] if f.path.step else f.name
        for d in statistics.datasets
        for f in d.features
        if f.type == statistics_pb2.FeatureNameStatistics.INT
        and (f.path.step[0] if f.path.step else f.name) in floats
    }


def _as_integers(schema: schema_pb2.Schema, names: set[str]) -> schema_pb2.Schema:
    """The schema with `names` typed INT, their FLOAT domain turned into the same INT range."""
    derived = schema_pb2.Schema()
    derived.CopyFrom(schema)
    for feature in derived.feature:
        if feature.name not in names:
            continue
        feature.type = schema_pb2.INT
        if feature.HasField("float_domain"):
            low = feature.float_domain.min if feature.float_domain.HasField("min") else None
            high = feature.float_domain.max if feature.float_domain.HasField("max") else None
            feature.int_domain.SetInParent()  # replaces float_domain (one domain per feature)
            if low is not None:
                feature.int_domain.min = math.ceil(low)
            if high is not None:
                feature.int_domain.max = math.floor(high)
    return derived


def explain_whole_numbers(
    found: list[Anomaly],
    statistics: statistics_pb2.DatasetFeatureStatisticsList,
    schema: schema_pb2.Schema,
) -> list[Anomaly]:
    """A FLOAT column of whole numbers is reported by TFDV as a type mismatch only, which hides
    what else is wrong with it (trip_miles -3 is below the domain's minimum 0). Validate those
    columns again with their domain as INT and report that first, then the type."""
    names = _whole_number_floats(statistics, schema)
    if not names or not any(a.feature in names for a in found):
        return found
    import tensorflow_data_validation as tfdv

    split = found[0].split  # the anomalies of one split (read_anomalies, validate_span)
    integers = tfdv.validate_statistics(statistics, _as_integers(schema, names))
    again = {a.feature: a for a in anomalies_of(integers, split)}
    domains = {f.name: f.float_domain for f in schema.feature if f.HasField("float_domain")}
    out = []
    for a in found:
        if a.feature in names:
            domain = again.get(a.feature)
            a = (
                Anomaly(
                    domain.split,
                    a.feature,
                    sorted({*domain.kinds, *a.kinds}),
                    f"{domain.description}{_bound(domain.kinds, domains.get(a.feature))}; "
                    f"and {WHOLE_NUMBERS}",
                )
                if domain is not None
                else Anomaly(a.split, a.feature, a.kinds, f"{a.description}: {WHOLE_NUMBERS}")
            )
        out.append(a)
    return out


def _bound(kinds: list[str], domain: Any) -> str:
    """Which end of the schema's FLOAT domain the values left, in the schema's own numbers."""
    if domain is None:
        return ""
    if "INT_TYPE_SMALL_INT" in kinds and domain.HasField("min"):
        return f" (below the domain's minimum {domain.min:g}: float_domain in the schema)"
    if "INT_TYPE_BIG_INT" in kinds and domain.HasField("max"):
        return f" (above the domain's maximum {domain.max:g}: float_domain in the schema)"
    return ""


def span_statistics(paths: list[str]) -> tuple[statistics_pb2.DatasetFeatureStatisticsList, int]:
    """StatisticsGen's statistics of the tf.Examples CsvExampleGen makes of a span's files, and
    the row count: its DoFns (header, CSV parsing, one type per column inferred over the whole
    span, Example building) called in-process, without a Beam pipeline."""
    from tensorflow_data_validation.statistics import stats_impl
    from tfx.components.example_gen.csv_example_gen import executor as csv_gen
    from tfx.utils import io_utils
    from tfx_bsl.coders import csv_decoder, example_coder

    names = io_utils.load_csv_column_names(paths[0])
    parser = csv_decoder.ParseCSVLine(delimiter=",")
    parser.setup()
    parsed = [
        cells
        for path in paths
        for line in csv_gen._ReadCsvRecordsFromTextFile().process(path)
        for cells, _ in parser.process(line)
    ]
    # The reader above already drops blank lines (a test holds it), so skip_blank_lines is moot.
    inferrer = csv_decoder.ColumnTypeInferrer(names, skip_blank_lines=True)  # pragma: no mutate
    types = inferrer.create_accumulator()
    for cells in parsed:
        types = inferrer.add_input(types, cells)
    columns = inferrer.extract_output(types)
    to_example = csv_gen._ParsedCsvToTfExample()
    examples = [
        example.SerializeToString()
        for cells in parsed
        for example in to_example.process(cells, columns)
    ]
    if not examples:
        return statistics_pb2.DatasetFeatureStatisticsList(), 0
    batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(examples)
    stats = stats_impl.generate_statistics_in_memory(batch)  # TFDV's default options
    return stats, len(examples)


def validate_span(paths: list[str], schema: schema_pb2.Schema) -> tuple[list[Anomaly], int]:
    """The data gate's anomalies for a span's CSV files (all of it as one split), and its rows."""
    import tensorflow_data_validation as tfdv

    stats, rows = span_statistics(paths)
    if rows == 0:
        return [], 0
    found = anomalies_of(tfdv.validate_statistics(stats, schema), "span")
    return explain_whole_numbers(found, stats, schema), rows


def format_anomalies(anomalies: list[Anomaly]) -> str:
    lines = ["| split | feature | anomaly | description |", "|---|---|---|---|"]
    lines += [
        f"| {a.split} | {a.feature} | {', '.join(a.kinds)} | {a.description} |" for a in anomalies
    ]
    return "\n".join(lines)


def write_report(anomalies: list[Anomaly], out_dir: str) -> None:
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    verdict = Verdict.FAIL if anomalies else Verdict.PASS
    Path(out_dir, REPORT_JSON).write_text(
        json.dumps({"verdict": verdict, "anomalies": [asdict(a) for a in anomalies]}, indent=1)
    )
    body = (
        format_anomalies(anomalies) if anomalies else "No anomalies: the data matches the schema."
    )
    Path(out_dir, REPORT_MARKDOWN).write_text(f"## Data validation: {verdict}\n\n{body}\n")


def _load(
    statistics: Any, schema: Any, splits: list[str]
) -> tuple[dict[str, Any] | None, schema_pb2.Schema | None]:
    if statistics is None or schema is None:
        return None, None
    from google.protobuf import text_format
    from tfx.components.statistics_gen import stats_artifact_utils

    with open(f"{schema.uri}/schema.pbtxt") as f:
        parsed = text_format.Parse(f.read(), schema_pb2.Schema())
    per_split = {
        split: stats_artifact_utils.load_statistics(statistics, split).proto() for split in splits
    }
    return per_split, parsed


@component
def DataGate(
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    report: OutputArtifact[DataValidationReport],
    statistics: InputArtifact[standard_artifacts.ExampleStatistics] = None,
    schema: InputArtifact[standard_artifacts.Schema] = None,
) -> None:
    """Fail the run when ExampleValidator reported any anomaly (with the statistics and the
    schema, a whole-number column's type mismatch also says what its FLOAT domain says)."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    found = read_anomalies(anomalies.uri, splits, *_load(statistics, schema, splits))
    write_report(found, report.uri)
    report.set_string_custom_property("verdict", Verdict.FAIL if found else Verdict.PASS)
    if found:
        raise DataValidationError(
            f"data validation failed: {len(found)} anomal{'y' if len(found) == 1 else 'ies'} "
            f"against the curated schema; Transform and Trainer did not run and nothing was "
            f"pushed.\n{format_anomalies(found)}\nFix the data, or, if the change is intended, "
            f"update models/schema/schema.pbtxt (draft one with `mlops schema draft`).",
            found,
        )
