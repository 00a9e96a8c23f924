"""Property tests: any rows the curated schema allows flow through Transform and the model to
finite predictions, and rows it forbids are reported by data validation, never passed silently.

Rows are generated from models/schema/schema.pbtxt (types, domains, required or optional),
so the properties follow the schema as people edit it. Valid training rows go the production way,
as a CSV span through CsvExampleGen's conversion; the violation properties build the batch TFDV
sees directly, so each names exactly the planted value.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow_metadata.proto.v0 import schema_pb2

from models import features as F
from store import rows as R
from tests.support import project
from tests.support import tfx_data as S
from tests.support.repo import FULL_DATA

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
batches = st.lists(S.schema_rows(st), min_size=1, max_size=6)


@SETTINGS
@given(rows=st.lists(S.schema_rows(st, serving=False), min_size=1, max_size=8))
def test_schema_valid_rows_in_a_csv_span_pass_data_validation(rows) -> None:
    """The production path for training data: the rows as a span's CSV file, the tf.Examples
    CsvExampleGen makes of it (its type inference over the whole file included), decoded as
    StatisticsGen decodes them, then TFDV against the curated schema."""
    assert S.validate_csv_rows(rows) == {}


def test_a_float_column_written_only_as_whole_numbers_is_stopped_by_the_gate(tmp_path) -> None:
    """Known behaviour of CsvExampleGen, pinned so nobody is surprised: it infers each column's
    type from the span's text, so a span whose float columns hold only whole numbers written
    without a decimal point ("45", as some exports write them) becomes INT and fails the data
    gate loudly, naming the columns. The bundled data mixes "0" and "12.45", so it is FLOAT.
    support.write_csv writes floats as floats ("45.0")."""
    csv = tmp_path / "span" / "data.csv"
    csv.parent.mkdir()
    csv.write_text(
        "fare,trip_start_month,trip_start_hour,trip_start_day,trip_start_timestamp,"
        "trip_miles,payment_type,tips\n"
        "45,5,19,6,1400269500,2.5,Cash,0\n"
        "12,5,20,6,1400273100,1.0,Credit Card,3\n"
    )
    anomalies = S.validate_examples(S.csv_examples(csv), schema=TAXI_SCHEMA)
    assert anomalies == {"fare": "Unexpected data type", "tips": "Unexpected data type"}


def test_a_string_column_holding_only_numbers_in_a_span_is_stopped_by_the_gate(tmp_path) -> None:
    """The same inference for strings, pinned: a span in which every company reads as a number
    ("0", "17") makes the column INT, and the data gate names it instead of training on it. The
    property test above therefore draws free text that does not read as a number."""
    csv = tmp_path / "span" / "data.csv"
    csv.parent.mkdir()
    csv.write_text(
        "fare,trip_start_month,trip_start_hour,trip_start_day,trip_start_timestamp,"
        "trip_miles,payment_type,company,tips\n"
        "45.0,5,19,6,1400269500,2.5,Cash,0,0.0\n"
        "12.0,5,20,6,1400273100,1.0,Credit Card,17,3.0\n"
    )
    anomalies = S.validate_examples(S.csv_examples(csv), schema=TAXI_SCHEMA)
    assert anomalies == {"company": "Unexpected data type"}


def test_the_fast_csv_path_is_csv_example_gen(tmp_path) -> None:
    """support.csv_examples calls CsvExampleGen's own steps without Beam; on real rows it gives
    exactly what the Beam transform gives."""
    csv = S.write_csv(
        R.read_csv(FULL_DATA, R.load_schema(), limit=200, serving=False),
        tmp_path / "span" / "data.csv",
    )
    assert S.csv_examples(csv) == S.csv_examples_beam(csv.parent)


@SETTINGS
@given(rows=batches)
def test_schema_valid_rows_give_finite_features_and_predictions(rows, serve) -> None:
    examples = R.examples(rows)
    transformed = serve.loaded.signatures["transform_features"](examples=tf.constant(examples))
    for name, tensor in transformed.items():
        if name == F.LABEL_KEY:
            continue
        values = tensor.numpy()
        assert values.shape == (len(rows),), name
        assert np.all(np.isfinite(values)), (name, values)
    for key, size in F.categorical_sizes().items():
        ids = transformed[key].numpy()
        assert np.all((ids >= 0) & (ids < size)), key
    project.assert_predictions(serve(examples), len(rows))


SCHEMA = R.load_schema()
REQUIRED = [f.name for f in R.serving_features(SCHEMA) if f.presence.min_fraction >= 1]
BOUNDED = [(f.name, f.int_domain.max + 1) for f in SCHEMA.feature if f.int_domain.HasField("max")]
BOUNDED += [
    (f.name, f.float_domain.max * 2) for f in SCHEMA.feature if f.float_domain.HasField("max")
]
NUMERIC = [f.name for f in R.serving_features(SCHEMA) if f.type != schema_pb2.BYTES]
ENUMS = [
    f.name
    for f in R.serving_features(SCHEMA)
    if f.HasField("domain") or f.HasField("string_domain")
]
# The taxi sample's own schema rules are checked on its pinned copy (tests/fixtures/taxi).
TAXI_SCHEMA = R.load_schema(project.TAXI_SCHEMA)


def _violations() -> st.SearchStrategy:
    missing = st.sampled_from(REQUIRED).map(lambda k: ("missing required value", k, None))
    out_of_range = st.sampled_from(BOUNDED).map(lambda kv: ("out of domain", kv[0], kv[1]))
    text = st.sampled_from(NUMERIC).map(lambda k: ("text in a numeric column", k, b"n/a"))
    kinds = [missing, out_of_range, text]
    if ENUMS:  # the taxi sample's payment_type
        enum = st.sampled_from(ENUMS).map(
            lambda k: ("value outside the string domain", k, b"Bitcoin")
        )
        kinds.append(enum)
    return st.one_of(*kinds)


@SETTINGS
@given(rows=batches, violation=_violations(), which=st.integers(0, 5))
def test_rows_violating_the_schema_are_reported(rows, violation, which) -> None:
    kind, key, value = violation
    bad = dict(rows[which % len(rows)])
    bad[key] = [] if value is None else [value]
    rows = [*rows, bad]
    anomalies = S.validate_rows(rows)
    assert key in anomalies, f"{kind} in {key!r} was not reported: {anomalies}"


@pytest.mark.parametrize(
    "kind,key,value",
    [
        ("missing required value", "fare", None),
        ("out of domain", "trip_start_hour", 24),
        ("text in a numeric column", "trip_miles", b"n/a"),
        ("value outside the string domain", "payment_type", b"Bitcoin"),
    ],
)
def test_each_violation_kind_names_the_feature(kind, key, value) -> None:
    taxi = R.read_csv(project.TAXI_ROWS, TAXI_SCHEMA, limit=1, serving=False)
    row = {k: v for k, v in taxi[0].items() if k != "tips"}
    row[key] = [] if value is None else [value]
    anomalies = S.validate_rows([row], schema=TAXI_SCHEMA)
    assert list(anomalies) == [key], kind
