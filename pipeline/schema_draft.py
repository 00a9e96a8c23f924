"""Draft a schema from data, for a human to review against the curated one.

The pipeline never infers its schema: it imports models/schema/schema.pbtxt, which people
curate (domains, required features, ranges, skew and drift comparators). This draft is the
starting point when the data legitimately changes; review its diff before copying anything over.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from core.config import EnvironmentConfig
from core.errors import ConfigError


def latest_span_pattern(cfg: EnvironmentConfig) -> str:
    """The file pattern of the newest span, as CsvExampleGen would resolve {SPAN}."""
    pattern = os.path.join(cfg.data.root, cfg.data.input_pattern)
    as_regex = re.escape(pattern).replace(re.escape("{SPAN}"), r"(\d+)").replace(r"\*", "[^/]*")
    spans = {
        int(m.group(1))
        for path in glob.glob(pattern.replace("{SPAN}", "*"))
        if (m := re.fullmatch(as_regex, path))
    }
    if not spans:
        raise ConfigError(f"no data matches {pattern} (data.root + data.input_pattern)")
    return pattern.replace("{SPAN}", str(max(spans)))


def draft_schema(cfg: EnvironmentConfig, output: Path) -> Path:
    import tensorflow_data_validation as tfdv

    stats = tfdv.generate_statistics_from_csv(data_location=latest_span_pattern(cfg))
    schema = tfdv.infer_schema(stats)
    output.parent.mkdir(parents=True, exist_ok=True)
    tfdv.write_schema_text(schema, str(output))
    return output
