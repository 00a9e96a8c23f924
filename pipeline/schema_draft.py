"""Draft a schema from data, for a human to review against the curated one.

The pipeline never infers its schema: it imports models/schema/schema.pbtxt, which people
curate (domains, required features, ranges, skew and drift comparators). This draft is the
starting point when the data legitimately changes; review its diff before copying anything over.
"""

from __future__ import annotations

from pathlib import Path

from core.config import EnvironmentConfig
from ct import spans


def latest_span_pattern(cfg: EnvironmentConfig) -> str:
    """The file pattern of the newest span, as CsvExampleGen would resolve {SPAN}."""
    return spans.pattern(cfg).replace("{SPAN}", str(spans.newest(cfg)))


def draft_schema(cfg: EnvironmentConfig, output: Path) -> Path:
    import tensorflow_data_validation as tfdv

    stats = tfdv.generate_statistics_from_csv(data_location=latest_span_pattern(cfg))
    schema = tfdv.infer_schema(stats)
    output.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(output))
    return output
