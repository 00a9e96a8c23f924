"""The rows a load test sends: the evaluation span of the model under test.

A model is judged on the rows it was evaluated on, so the rows come from what records that
model's data: its release record (`spans` and `data_root`; evaluation is on the newest span of
the training window) or the run summary of the run that pushed it (`eval_span`, `data_root`).
Never from the newest files on disk: after a span the data gate refused, the newest
CsvExampleGen split (or span folder) belongs to a run that produced no model, and may be empty.

The span's raw CSV rows go through the row reader (store/rows.py), so a row the data gate would
refuse is refused here too. CsvExampleGen's eval split is a hash sample of the same span.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import EnvironmentConfig, show_path
from core.errors import ConfigError
from core.uris import is_remote, resolve
from ct import spans
from store import release
from store import rows as R

SUMMARY_FILE = "run_summary.json"  # written by pipeline/summary.py next to the pipeline root
ROWS_HINT = "pass --rows FILE.csv (or set loadtest.rows_file)"


@dataclass(frozen=True)
class ModelData:
    """The span one model version was evaluated on, and which file says so."""

    version: int
    data_root: str
    span: int
    source: str

    def describe(self) -> str:
        return f"span {self.span} under {self.data_root} (version {self.version}, {self.source})"


def environments_dir_of(cfg: EnvironmentConfig) -> Path:
    """The environments folder `cfg` was loaded from: its overlay's grandparent folder."""
    return Path(cfg.sources[-1]).parent.parent


def summary_path(cfg: EnvironmentConfig) -> Path | None:
    """Where `mlops run` wrote its run summary; None for a pipeline root in a bucket."""
    if is_remote(cfg.paths.pipeline_root):
        return None
    return Path(cfg.paths.pipeline_root).parent / SUMMARY_FILE


def _from_releases(environments_dir: Path, env: str) -> list[ModelData]:
    record = release.read(environments_dir, env)
    if record is None:
        return []
    path = show_path(release.record_path(environments_dir, env))
    labelled = [("current", record.current)]
    labelled += [(f"history[{i}]", r) for i, r in enumerate(record.history)]
    return [
        ModelData(r.version, r.data_root, max(r.spans), f"{path} {label}")
        for label, r in labelled
        if r.spans and r.data_root
    ]


def _from_summary(path: Path | None) -> list[ModelData]:
    if path is None or not path.exists():
        return []
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{show_path(path)}: not a readable run summary: {exc}") from None
    version = str(summary.get("pushed_version") or "")
    span, root = summary.get("eval_span"), summary.get("data_root")
    if not (summary.get("pushed") and version.isdigit() and isinstance(span, int) and root):
        return []  # a run that pushed nothing (a gate stopped it) describes no model
    return [ModelData(int(version), str(root), span, f"{show_path(path)}")]


def model_data(
    cfg: EnvironmentConfig,
    environments_dir: Path | None = None,
    served: Collection[int] | None = None,
) -> ModelData:
    """The evaluation data of the model under test.

    `served`: the versions the server reports AVAILABLE; a request without a version goes to the
    newest of them, so that is the model under test. Without it, the environment's released
    version, else the version the last run pushed.
    """
    environments_dir = environments_dir or environments_dir_of(cfg)
    found = _from_releases(environments_dir, cfg.name) + _from_summary(summary_path(cfg))
    record = show_path(release.record_path(environments_dir, cfg.name))
    summary = summary_path(cfg)
    sources = f"{record}" + (f" and {show_path(summary)}" if summary else "")
    if served:
        version = max(served)
        matching = [d for d in found if d.version == version]
        if not matching:
            raise ConfigError(
                f"the server serves version {version} of {cfg.model_name}, and neither "
                f"{sources} says which data that version was trained and evaluated on, so "
                f"there are no rows of its own to send; {ROWS_HINT}"
            )
        return matching[0]
    if not found:
        raise ConfigError(
            f"nothing says which data {cfg.name}'s model was trained and evaluated on: "
            f"{sources} name no released or pushed model with its spans; run `mlops run "
            f"--env {cfg.name}` first, or {ROWS_HINT}"
        )
    return found[0]


def span_files(cfg: EnvironmentConfig, data: ModelData) -> list[str]:
    """The CSV files of the model's evaluation span, found with the environment's input
    pattern under the data root the model was trained from."""
    if is_remote(data.data_root):
        raise ConfigError(
            f"the model under test was evaluated on {data.describe()}, which is not on this "
            f"machine; {ROWS_HINT}"
        )
    at_root = dataclasses.replace(cfg.data, root=resolve(data.data_root))
    try:
        return spans.files(dataclasses.replace(cfg, data=at_root), [data.span])
    except ConfigError as exc:
        where = f"the model under test was evaluated on {data.describe()}"
        raise ConfigError(f"{where}: {exc}") from None


def eval_rows(cfg: EnvironmentConfig, data: ModelData, limit: int) -> list[R.Row]:
    """Up to `limit` typed rows of the model's evaluation span; none is an error saying so."""
    schema = R.load_schema()
    rows: list[R.Row] = []
    for path in span_files(cfg, data):
        if len(rows) >= limit:
            break
        try:
            rows += R.read_csv(Path(path), schema, limit=limit - len(rows))
        except R.NoDataRows:
            continue
        except R.RowError as exc:
            raise ConfigError(f"rows of the model under test ({data.describe()}): {exc}") from None
    if not rows:
        raise ConfigError(
            f"no rows to send: {data.describe()} holds no data rows; nothing to load-test "
            f"with; {ROWS_HINT}"
        )
    return rows


def available_versions(status: Mapping[str, Any]) -> set[int]:
    """The versions a REST model-status answer reports AVAILABLE."""
    return {
        int(v["version"])
        for v in status.get("model_version_status") or []
        if v.get("state") == "AVAILABLE" and str(v.get("version", "")).isdigit()
    }


def served_versions(url: str, model_name: str) -> set[int] | None:
    """What the server at `url` serves (for `served`); None when it does not answer."""
    from serving.client import PredictionError, RestClient

    try:
        return available_versions(RestClient(url, model_name, timeout=10).status())
    except PredictionError:
        return None


def has_eval_split(
    cfg: EnvironmentConfig,
    *,
    environments_dir: Path | None = None,
    served: Collection[int] | None = None,
) -> bool:
    """Whether this machine can read the evaluation span of the model under test."""
    try:
        data = model_data(cfg, environments_dir, served)
    except ConfigError:
        return False
    return not is_remote(data.data_root)


def eval_examples(
    cfg: EnvironmentConfig,
    limit: int,
    *,
    environments_dir: Path | None = None,
    served: Collection[int] | None = None,
) -> list[bytes]:
    """Serialized tf.Examples of up to `limit` rows the model under test was evaluated on."""
    return R.examples(eval_rows(cfg, model_data(cfg, environments_dir, served), limit))
