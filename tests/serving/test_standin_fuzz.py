"""Fuzz the stand-in's REST surface: whatever the route, method or body, never a 5xx.

Upstream answers bad requests with a 4xx and a JSON `{"error": ...}`; a 5xx (or aiohttp's HTML
error page) from the stand-in means one of its handlers broke on input it should have refused.
After all examples, the server still answers a good request.
"""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store import rows as R
from tests.support.servers import BATCHING, MODEL, start_server, stop_server

from .test_contract_corpus import send

pytestmark = pytest.mark.slow

KEYS = [
    "instances",
    "inputs",
    "signature_name",
    "examples",
    "b64",
    "serving_default",
    "transform_features",
    "x",
]
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(KEYS),
    st.builds(lambda b: {"b64": b}, st.sampled_from(["", "AA==", "!!", "Cg=="])),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=4),
    ),
    max_leaves=12,
)
request_dicts = st.fixed_dictionaries(
    {},
    optional={
        "signature_name": st.one_of(
            st.sampled_from(["", "serving_default", "transform_features", "nope"]), json_value
        ),
        "instances": st.one_of(st.lists(json_value, max_size=3), json_value),
        "inputs": st.one_of(
            st.dictionaries(st.sampled_from(["examples", "x"]), json_value, max_size=2), json_value
        ),
    },
)
bodies = st.one_of(
    request_dicts.map(lambda d: json.dumps(d).encode()),
    request_dicts.map(lambda d: json.dumps(d).encode()),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.just(b""),
)
segment = st.one_of(
    st.sampled_from(
        [
            "v1",
            "models",
            MODEL,
            "versions",
            "labels",
            "metadata",
            "1",
            "2",
            "99",
            "stable",
            "",
            "V1",
            "MODELS",
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="?#"), max_size=8),
)
suffix = st.sampled_from(
    ["", ":predict", ":classify", ":regress", ":PREDICT", ":x", "/", "/metadata"]
)
ROUTES = [
    f"/v1/models/{MODEL}:predict",
    f"/v1/models/{MODEL}/versions/2:predict",
    f"/v1/models/{MODEL}/versions/1:predict",
    f"/v1/models/{MODEL}",
    f"/v1/models/{MODEL}/metadata",
    f"/v1/models/{MODEL}/labels/stable:predict",
]
# Most requests go to real routes with request-shaped bodies: that is where handlers do work.
paths = st.one_of(
    st.sampled_from(ROUTES[:3]),
    st.sampled_from(ROUTES),
    st.builds(lambda segs, sfx: "/" + "/".join(segs) + sfx, st.lists(segment, max_size=6), suffix),
)
methods = st.one_of(
    st.just("POST"),
    st.just("POST"),
    st.just("GET"),
    st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
)


@pytest.fixture(scope="module")
def standin(tmp_path_factory, trained, second_version):
    server = start_server(
        tmp_path_factory.mktemp("fuzz"),
        "local",
        {1: trained.export_dir, 2: second_version},
        serving={"num_versions": 2, "batching": BATCHING},
    )
    yield server
    stop_server(server)


def test_no_request_gets_a_5xx_and_the_server_keeps_serving(standin, transform_run) -> None:
    seen: dict[int, int] = {}

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(method=methods, path=paths, body=bodies)
    def one(method: str, path: str, body: bytes) -> None:
        status, raw = send(standin.rest_url, method, path, body if method != "GET" else None)
        seen[status] = seen.get(status, 0) + 1
        assert status < 500, (method, path, body[:200], status, raw[:300])
        if status >= 400 and method not in ("HEAD", "OPTIONS"):  # upstream: no body for those
            payload = json.loads(raw)  # a JSON error body, never an HTML page
            assert isinstance(payload.get("error"), str), payload

    one()
    assert len(seen) >= 3, seen  # the fuzz reached more than one kind of answer
    example = R.examples(transform_run.probe_rows[:1])[0]
    good = json.dumps({"instances": [{"b64": base64.b64encode(example).decode()}]}).encode()
    status, raw = send(standin.rest_url, "POST", f"/v1/models/{MODEL}:predict", good)
    assert status == 200, raw
    assert len(json.loads(raw)["predictions"]) == 1
