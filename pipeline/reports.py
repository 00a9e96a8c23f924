"""Where a run keeps the gates' reports, outside the pipeline root.

TFX removes a failed execution's outputs, so the data and drift gates' reports are copied here,
where the runner (on a stop) and the summary (on every run) both find them.
"""

from __future__ import annotations

from pathlib import Path

from core.config import EnvironmentConfig


def report_dir(cfg: EnvironmentConfig) -> Path:
    """Where the data gate's report is kept (anomalies.json, anomalies.md)."""
    return Path(cfg.paths.pipeline_root).parent / "data_validation"


def drift_report_dir(cfg: EnvironmentConfig) -> Path:
    """Where the drift gate's report is kept, whatever its verdict (drift.json, drift.md)."""
    return Path(cfg.paths.pipeline_root).parent / "drift"
