"""The committed data against the committed schema, and the schema against the feature table."""

from __future__ import annotations

import csv

import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from core.paths import SCHEMA_DIR
from models import features as F
from tests.support import project
from tests.support.repo import FULL_DATA


@pytest.fixture(scope="module")
def schema() -> schema_pb2.Schema:
    return tfdv.load_schema_text(str(SCHEMA_DIR / "schema.pbtxt"))


def test_bundled_data_satisfies_the_schema(schema: schema_pb2.Schema) -> None:
    stats = tfdv.generate_statistics_from_csv(str(FULL_DATA))
    anomalies = tfdv.validate_statistics(stats, schema)
    assert dict(anomalies.anomaly_info) == {}
    with FULL_DATA.open(newline="") as f:
        assert stats.datasets[0].num_examples == sum(1 for _ in csv.reader(f)) - 1
    if project.IS_TAXI_SAMPLE:
        assert stats.datasets[0].num_examples == 15002  # both bundled spans, every trip


def test_schema_describes_exactly_the_raw_columns(schema: schema_pb2.Schema) -> None:
    header = FULL_DATA.read_text().splitlines()[0].split(",")
    assert sorted(f.name for f in schema.feature) == sorted(header) == sorted(F.all_raw_keys())


def test_every_column_has_one_role() -> None:
    roles = [
        F.ZSCORE_KEYS,
        F.QUANTILE_BUCKET_KEYS,
        (F.HOUR_KEY,) if F.HOUR_KEY else (),
        tuple(F.INTEGER_CATEGORICAL_SIZES),
        F.VOCABULARY_KEYS,
        tuple(F.CYCLICAL_PARTS),
        F.UNUSED_KEYS,
    ]
    flat = [k for role in roles for k in role]
    assert len(flat) == len(set(flat)), "a column is engineered twice"
    # The label's own column (the taxi sample's tips) is the one column without a role.
    assert set(flat) | {F.LABEL_COLUMN} == set(F.all_raw_keys())
    assert F.LABEL_COLUMN not in flat


def test_required_features_and_comparators() -> None:
    """The taxi sample's schema rules, on its pinned copy (tests/fixtures/taxi)."""
    by_name = {f.name: f for f in tfdv.load_schema_text(str(project.TAXI_SCHEMA)).feature}
    for name in ("fare", "trip_start_hour", "payment_type", "tips"):
        assert by_name[name].presence.min_fraction == 1.0
    assert by_name["payment_type"].domain == "payment_type"
    assert by_name["payment_type"].skew_comparator.infinity_norm.threshold > 0
    assert by_name["fare"].drift_comparator.jensen_shannon_divergence.threshold > 0
    assert "SERVING" in by_name["tips"].not_in_environment


def test_schema_draft_reads_the_newest_span(tmp_path, capsys) -> None:
    from mlops import cli
    from tests.support.repo import write_sample

    data = write_sample(tmp_path / "data", rows=400)
    newer = data / "span-2" / "data.csv"
    newer.parent.mkdir()
    newer.write_text((data / "span-1" / "data.csv").read_text())
    (data / "span-10").mkdir()  # numbers, not text order: span 10 is the newest
    (data / "span-10" / "data.csv").write_text((data / "span-1" / "data.csv").read_text())
    out = tmp_path / "draft.pbtxt"
    assert (
        cli.main(["schema", "draft", "--env", "dev", "--data", str(data), "--output", str(out)])
        == 0
    )
    draft = tfdv.load_schema_text(str(out))
    assert {f.name for f in draft.feature} == set(F.all_raw_keys())
    assert "models/schema/schema.pbtxt" in capsys.readouterr().out

    from core import config
    from pipeline.schema_draft import latest_span_pattern

    assert latest_span_pattern(config.load("dev", data_root=str(data))).endswith("span-10/*.csv")


def test_schema_draft_without_data_is_a_clear_error(tmp_path, capsys) -> None:
    from mlops import cli

    assert cli.main(["schema", "draft", "--env", "dev", "--data", str(tmp_path)]) == 2
    assert "no data matches" in capsys.readouterr().err


def test_transform_reads_every_schema_feature_except_the_unused(schema) -> None:
    """Traced from preprocessing_fn itself: a feature the schema promises but the Transform
    ignores (or reads without the schema knowing) fails here, not in a pipeline run."""
    import tensorflow as tf
    import tensorflow_transform as tft
    from tensorflow_transform.tf_metadata import schema_utils

    from models.preprocessing import preprocessing_fn

    spec = {
        name: tf.SparseTensorSpec([None, None], feature.dtype)
        for name, feature in schema_utils.schema_as_feature_spec(schema).feature_spec.items()
    }
    used = set(tft.get_transform_input_columns(preprocessing_fn, spec))
    assert used == {f.name for f in schema.feature} - set(F.UNUSED_KEYS)
    analysed = set(tft.get_analyze_input_columns(preprocessing_fn, spec))
    assert analysed == set(F.ZSCORE_KEYS + F.QUANTILE_BUCKET_KEYS + F.VOCABULARY_KEYS)


def test_on_the_taxi_sample_the_pinned_schema_is_the_committed_one(
    schema: schema_pb2.Schema,
) -> None:
    """tests/fixtures/taxi/schema.pbtxt stands for models/schema/schema.pbtxt until `mlops init`
    replaces the sample; a change to the sample's schema updates the pinned copy too."""
    pinned = tfdv.load_schema_text(str(project.TAXI_SCHEMA))
    assert (schema == pinned) == project.IS_TAXI_SAMPLE
