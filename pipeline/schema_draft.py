"""Draft a schema from data, for a human to review against the curated one.

The pipeline never infers its schema: it imports components/schema/schema.pbtxt, which people
curate (domains, required features, ranges, skew and drift comparators). This draft is the
starting point when the data legitimately changes; review its diff before copying anything over.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from mlops.config import EnvironmentConfig
from mlops.errors import ConfigError


def latest_span_files(cfg: EnvironmentConfig) -> list[str]:
    """CSV files of the newest span, as CsvExampleGen would pick them."""
    pattern = os.path.join(cfg.data.root, cfg.data.input_pattern)
    by_span: dict[int, list[str]] = {}
    prefix, _, suffix = pattern.partition("{SPAN}")
    for path in glob.glob(pattern.replace("{SPAN}", "*")):
        span_text = path[len(prefix):].split(os.sep)[0]
        span_text = span_text[: len(span_text) - len(suffix)] if "/" not in suffix else span_text
        if span_text.isdigit():
            by_span.setdefault(int(span_text), []).append(path)
    if not by_span:
        raise ConfigError(f"no data matches {pattern} (data.root + data.input_pattern)")
    return sorted(by_span[max(by_span)])


def draft_schema(cfg: EnvironmentConfig, output: Path) -> Path:
    import tensorflow_data_validation as tfdv

    files = latest_span_files(cfg)
    stats = tfdv.generate_statistics_from_csv(data_location=files[0] if len(files) == 1
                                              else os.path.join(os.path.dirname(files[0]), "*"))
    schema = tfdv.infer_schema(stats)
    output.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(output))
    return output
