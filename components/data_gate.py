"""The data gate: turn ExampleValidator's anomalies into a stop.

Upstream templates compute anomalies and carry on training anyway. Here Transform and Trainer run
only after this component succeeds, and it fails whenever any split has an anomaly, with a report
(JSON for machines, Markdown for people) that names each feature, the kind of anomaly, and why.
"""

# No `from __future__ import annotations`: the @component decorator reads real type objects.
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from tensorflow_metadata.proto.v0 import anomalies_pb2
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


def read_anomalies(anomalies_uri: str, split_names: list[str]) -> list[Anomaly]:
    """Anomalies per split from an ExampleAnomalies artifact directory."""
    found: list[Anomaly] = []
    for split in split_names:
        proto = anomalies_pb2.Anomalies()
        path = Path(anomalies_uri, f"Split-{split}", SCHEMA_DIFF_FILE)
        proto.ParseFromString(path.read_bytes())
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


@component
def DataGate(
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    report: OutputArtifact[DataValidationReport],
) -> None:
    """Fail the run when ExampleValidator reported any anomaly."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    found = read_anomalies(anomalies.uri, splits)
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
