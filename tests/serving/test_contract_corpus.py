"""The contract corpus (contract_cases.yaml) against every backend this machine has.

Each case says what upstream TF Serving answers, and where in its source that is decided. On a
machine with Docker the same cases run against the real `tensorflow/serving` container, so the
corpus is checked against the real server, and the stand-in against the corpus.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import yaml

from store import rows as R
from tests.support.servers import MODEL

pytestmark = pytest.mark.slow

CASES = yaml.safe_load((Path(__file__).with_name("contract_cases.yaml")).read_text())
EX_LIST = re.compile(r"^\{ex_list:(\d+)\}$")


def _applies(case: dict[str, Any], served) -> bool:
    when = case.get("when")
    return when is None or (when == "batching") == served.batching


def _fill(value: Any, examples: list[bytes]) -> Any:
    """Replace the placeholders of a case's JSON body."""
    if isinstance(value, dict):
        return {k: _fill(v, examples) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, examples) for v in value]
    if value == "{ex}":
        return {"b64": base64.b64encode(examples[0]).decode()}
    if isinstance(value, str) and (m := EX_LIST.match(value)):
        n = int(m.group(1))
        return [{"b64": base64.b64encode(examples[i % len(examples)]).decode()} for i in range(n)]
    return value


def send(
    url: str, method: str, path: str, body: bytes | None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname, f"no host in {url}"
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request(
            method,
            urllib.parse.quote(path, safe="/:%"),
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def examples(transform_run) -> list[bytes]:
    return R.examples(transform_run.probe_rows[:20])


@pytest.mark.parametrize("case", CASES["rest"], ids=[c["id"] for c in CASES["rest"]])
def test_rest_case(served, rest, examples, case) -> None:
    if not _applies(case, served):
        pytest.skip(f"a case for servers {case['when'].replace('_', ' ')}")
    path = case["path"].replace("{model}", MODEL)
    body: bytes | None
    if "json" in case:
        body = json.dumps(_fill(case["json"], examples)).encode()
    else:
        body = case.get("raw", "").encode() if "raw" in case else None
    status, raw = send(served.rest_url, case["method"], path, body, case.get("headers"))
    where = f"{case['id']} ({case['source']}): {status} {raw[:300]!r}"
    assert status == case["status"], where
    if status == 200:
        payload = json.loads(raw)
        assert sorted(payload) == sorted(case["keys"]), where
        return
    if case["error"] is None:
        return
    payload = json.loads(raw)  # every /v1/ error is a JSON object with one string
    assert list(payload) == ["error"] and isinstance(payload["error"], str), where
    assert re.search(case["error"], payload["error"]), where


def _grpc_request(case: dict[str, Any], examples: list[bytes]) -> tuple[str, Any]:
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        predict_pb2,
    )

    rpc = case["rpc"]
    request = {
        "Predict": predict_pb2.PredictRequest,
        "GetModelMetadata": get_model_metadata_pb2.GetModelMetadataRequest,
        "GetModelStatus": get_model_status_pb2.GetModelStatusRequest,
    }[rpc]()
    spec = case["spec"]
    if spec is not None:
        request.model_spec.name = spec["name"].replace("{model}", MODEL)
        if "version" in spec:
            request.model_spec.version.value = spec["version"]
        if "label" in spec:
            request.model_spec.version_label = spec["label"]
        if "signature_name" in spec:
            request.model_spec.signature_name = spec["signature_name"]
    for name, n in case.get("inputs", {}).items():
        batch = [examples[i % len(examples)] for i in range(n)]
        request.inputs[name].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string, shape=[n]))
    if "metadata_field" in case:
        request.metadata_field.extend(case["metadata_field"])
    return rpc, request


@pytest.mark.parametrize("case", CASES["grpc"], ids=[c["id"] for c in CASES["grpc"]])
def test_grpc_case(served, rest, examples, case) -> None:
    import grpc
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    if not _applies(case, served):
        pytest.skip(f"a case for servers {case['when'].replace('_', ' ')}")
    rpc, request = _grpc_request(case, examples)
    with grpc.insecure_channel(served.grpc_target) as channel:
        stub = (
            model_service_pb2_grpc.ModelServiceStub(channel)
            if rpc == "GetModelStatus"
            else prediction_service_pb2_grpc.PredictionServiceStub(channel)
        )
        try:
            getattr(stub, rpc)(request, timeout=60)
            code, details = "OK", ""
        except grpc.RpcError as exc:
            code, details = exc.code().name, exc.details()
    where = f"{case['id']}: {code} {details[:300]!r}"
    assert code == case["code"], where
    if case.get("details"):
        assert re.search(case["details"], details), where


def _metric_lines(url: str) -> list[str]:
    status, raw = send(url, "GET", "/monitoring/prometheus/metrics", None)
    assert status == 200
    return raw.decode().splitlines()


def test_prometheus_metrics_use_upstream_names_labels_and_status_values(
    served, rest, examples
) -> None:
    """util.cc: request_count{model_name,status} for every request with the status code's name;
    request_latency{model_name,API,entrypoint} only for OK ones; gRPC Predict as "Predict"."""
    from serving.client import GrpcClient

    body = json.dumps({"instances": _fill(["{ex}"], examples)}).encode()
    assert send(served.rest_url, "POST", f"/v1/models/{MODEL}:predict", body)[0] == 200
    assert send(served.rest_url, "POST", "/v1/models/no_such_model:predict", body)[0] == 404
    assert (
        send(served.rest_url, "POST", f"/v1/models/{MODEL}:predict", b'{"instances": [3.5]}')[0]
        == 400
    )
    client = GrpcClient(served.grpc_target, MODEL)
    try:
        client.predict(examples[:1])
    finally:
        client.close()
    lines = _metric_lines(served.rest_url)
    count = ":tensorflow:serving:request_count"
    assert f"# TYPE {count} counter" in lines
    for labels in (
        f'model_name="{MODEL}",status="OK"',
        'model_name="no_such_model",status="NOT_FOUND"',
        f'model_name="{MODEL}",status="INVALID_ARGUMENT"',
    ):
        assert any(line.startswith(f"{count}{{{labels}}} ") for line in lines), labels
    latency = ":tensorflow:serving:request_latency"
    assert f"# TYPE {latency} histogram" in lines
    for labels in (
        f'model_name="{MODEL}",API="predict",entrypoint="REST"',
        f'model_name="{MODEL}",API="Predict",entrypoint="GRPC"',
    ):
        assert any(line.startswith(f"{latency}_count{{{labels}}} ") for line in lines), labels
        assert any(line.startswith(f'{latency}_bucket{{{labels},le="+Inf"}} ') for line in lines), (
            labels
        )
    assert not any("no_such_model" in line for line in lines if line.startswith(latency))
