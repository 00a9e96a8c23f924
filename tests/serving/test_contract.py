"""TF Serving's contract, checked against every backend this machine has.

Here that is the local stand-in; on a machine with Docker or tensorflow_model_server the same
tests run against the real server, which is how the stand-in is kept honest.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import numpy as np
import pytest

from serving.client import GrpcClient, PredictionError, predict_body
from store import rows as R
from tests.support.servers import MODEL

# Starts a real server per backend (and pulls the TF Serving image where Docker exists): part of
# `make test`, left out of the `make test-fast` loop.
pytestmark = pytest.mark.slow

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def examples(transform_run) -> list[bytes]:
    return R.examples(transform_run.probe_rows[:16])  # within max_batch_size


@pytest.fixture(scope="module")
def grpc_client(served, rest):
    client = GrpcClient(served.grpc_target, MODEL)
    yield client
    client.close()


def raw_post(url: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_status_reports_every_served_version_available(rest) -> None:
    states = {s["version"]: s["state"] for s in rest.status()["model_version_status"]}
    assert states == {"1": "AVAILABLE", "2": "AVAILABLE"}
    assert rest.status(version=1)["model_version_status"][0]["state"] == "AVAILABLE"


def test_metadata_shows_the_serving_signature(rest) -> None:
    meta = rest.metadata()
    assert meta["model_spec"]["name"] == MODEL and meta["model_spec"]["version"] == "2"
    sig = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert sig["outputs"]["outputs"]["dtype"] == "DT_FLOAT"
    assert "transform_features" in meta["metadata"]["signature_def"]["signature_def"]


def test_predictions_match_the_in_process_model(rest, examples, predict_in_process) -> None:
    expected = predict_in_process(2, examples)
    np.testing.assert_allclose(rest.predict(examples), expected, atol=TOLERANCE)
    np.testing.assert_allclose(rest.predict(examples, columnar=True), expected, atol=TOLERANCE)


def test_version_routes_reach_that_version(rest, examples, predict_in_process) -> None:
    for version in (1, 2):
        np.testing.assert_allclose(
            rest.predict(examples, version=version),
            predict_in_process(version, examples),
            atol=TOLERANCE,
        )
    assert not np.allclose(predict_in_process(1, examples), predict_in_process(2, examples))


def test_grpc_and_rest_give_the_same_predictions(rest, grpc_client, examples) -> None:
    assert grpc_client.status() == {1: "AVAILABLE", 2: "AVAILABLE"}
    np.testing.assert_allclose(
        grpc_client.predict(examples), rest.predict(examples), atol=TOLERANCE
    )
    np.testing.assert_allclose(
        grpc_client.predict(examples, version=1), rest.predict(examples, version=1), atol=TOLERANCE
    )
    with pytest.raises(PredictionError, match="NOT_FOUND"):
        grpc_client.predict(examples, version=99)


def _bad_requests(example: bytes) -> dict[str, tuple[str, bytes]]:
    good = json.dumps(predict_body([example])).encode()
    return {
        "malformed JSON": (f"/v1/models/{MODEL}:predict", b'{"instances": [}'),
        "wrong input name": (
            f"/v1/models/{MODEL}:predict",
            json.dumps({"instances": [{"rows": {"b64": "AA=="}}]}).encode(),
        ),
        "wrong dtype": (f"/v1/models/{MODEL}:predict", b'{"instances": [{"examples": 3.5}]}'),
        "missing b64": (f"/v1/models/{MODEL}:predict", b'{"instances": [{"examples": "fare=3"}]}'),
        "empty instances": (f"/v1/models/{MODEL}:predict", b'{"instances": []}'),
        "oversize payload": (
            f"/v1/models/{MODEL}:predict",
            b'{"instances": ["' + b"A" * (6 * 1024 * 1024) + b'"]}',
        ),
        "unknown model": ("/v1/models/no_such_model:predict", good),
        "unknown version": (f"/v1/models/{MODEL}/versions/99:predict", good),
    }


@pytest.mark.parametrize(
    "case",
    [
        "malformed JSON",
        "wrong input name",
        "wrong dtype",
        "missing b64",
        "empty instances",
        "oversize payload",
        "unknown model",
        "unknown version",
    ],
)
def test_bad_requests_get_4xx_with_an_error_body(served, rest, examples, case) -> None:
    path, data = _bad_requests(examples[0])[case]
    status, body = raw_post(served.rest_url + path, data)
    assert 400 <= status < 500, (case, status, body)
    assert isinstance(body.get("error"), str) and body["error"], body
    if case.startswith("unknown"):
        assert status == 404
    # ...and the server keeps serving.
    assert rest.predict(examples[:2]).shape == (2, 1)


def test_prometheus_metrics_are_served(served, rest, examples) -> None:
    rest.predict(examples[:1])
    with urllib.request.urlopen(
        served.rest_url + "/monitoring/prometheus/metrics", timeout=10
    ) as response:
        text = response.read().decode()
    assert ":tensorflow:serving:request_count" in text


def test_predict_command_prints_one_probability_per_row(served, rest, tmp_path) -> None:
    from tests.support.repo import FULL_DATA

    rows = tmp_path / "rows.csv"
    # 20 rows: more than max_batch_size (16), so a batching server needs two requests.
    rows.write_text("\n".join(FULL_DATA.read_text().splitlines()[:21]) + "\n")
    outputs = {}
    for protocol in ("rest", "grpc"):
        result = served.cli("predict", "--rows", str(rows), "--protocol", protocol)
        assert result.returncode == 0, result.stderr
        outputs[protocol] = result.stdout.splitlines()
        assert len(outputs[protocol]) == 21  # header + 20 rows
    assert outputs["rest"] == outputs["grpc"]


def _batches(url: str) -> tuple[int, int]:
    """(batches run, batches of a single row) from upstream's
    `:tensorflow:serving:batching_session:processed_batch_size` histogram (bucket "2" counts
    sizes below 2); (0, 0) before any batch ran or without batching."""
    with urllib.request.urlopen(url + "/monitoring/prometheus/metrics", timeout=10) as r:
        lines = r.read().decode().splitlines()
    name = ":tensorflow:serving:batching_session:processed_batch_size"
    values = {
        line.rsplit(" ", 1)[0]: int(float(line.rsplit(" ", 1)[1]))
        for line in lines
        if line.startswith(name)
    }
    return values.get(f"{name}_count{{}}", 0), values.get(f'{name}_bucket{{le="2"}}', 0)


def test_a_bad_request_among_concurrent_good_ones(
    served, rest, examples, predict_in_process
) -> None:
    """With batching (a 20 ms batch timeout) concurrent requests share one TensorFlow call, and
    upstream hands that call's status to every request in it: a neighbour of the bad request
    fails with the bad request's error, or succeeds with its own prediction; nothing else.
    Without batching every request stands alone."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"{served.rest_url}/v1/models/{MODEL}:predict"
    bad = b'{"instances": [{"examples": "not a tf.Example"}]}'
    goods = [json.dumps(predict_body([e])).encode() for e in examples[:12]]
    before = _batches(served.rest_url)
    with ThreadPoolExecutor(max_workers=13) as pool:
        futures = [pool.submit(raw_post, url, body) for body in [*goods[:6], bad, *goods[6:]]]
        results = [f.result() for f in futures]
    after = _batches(served.rest_url)
    bad_status, bad_body = results.pop(6)
    assert bad_status == 400 and bad_body["error"], bad_body
    expected = predict_in_process(2, examples[:12])
    sank = 0
    for (status, body), want in zip(results, expected, strict=True):
        if status == 200:
            np.testing.assert_allclose(body["predictions"][0], want, atol=TOLERANCE)
        else:
            assert served.batching and (status, body) == (bad_status, bad_body), body
            sank += 1
    if served.batching:
        runs, singles = after[0] - before[0], after[1] - before[1]
        assert runs - singles >= 1, f"no batch held more than one request ({runs} batches)"
        assert runs < 13, f"{runs} batches for 13 requests: nothing was shared"
    else:
        assert after == before == (0, 0)
        assert sank == 0
    assert rest.predict(examples[:2]).shape == (2, 1)  # ...and the server keeps serving
