"""Clients for a served model over REST and gRPC.

Both send serialized tf.Examples to the `serving_default` signature under its input name
`examples`. Callers build them from raw rows with store/rows.py (`R.examples(rows)`), the
same conversion the CI checks use, so what a client sends matches what the model trained on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

import numpy as np

from core.config import BatchingConfig
from core.errors import ConfigError, InfraError, MlopsError

INPUT_NAME = "examples"
OUTPUT_NAME = "outputs"


class PredictionError(MlopsError):
    """The server refused or failed a request; the message carries its status and error text.

    `not_found` is set when the server does not know the model or version asked for (HTTP 404,
    gRPC NOT_FOUND), which the caller may report as a wrong option rather than a failure.
    """

    def __init__(self, message: str, *, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class ServerUnreachable(InfraError, PredictionError):
    """No server answers at the address: infrastructure (exit 3), nothing was judged."""


def check_rest_url(url: str, source: str = "the REST URL") -> str:
    """`url` if it is an http(s) base URL; else a ConfigError naming `source` and an example.

    Without a scheme urllib reads `localhost:8501` as scheme `localhost` and answers "unknown
    url type", which names neither the option nor the fix.
    """
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        example = "http://" + url.split("://", 1)[-1].strip("/") if url.strip("/") else ""
        raise ConfigError(
            f"{source} {url!r}: a REST URL starts with http:// or https:// and names a host"
            + (f", e.g. {example!r}" if example else ", e.g. 'http://localhost:8501'")
        )
    return url


def check_grpc_target(target: str, source: str = "the gRPC target") -> str:
    """`target` unless it is an http(s) URL, the REST address given where gRPC's host:port
    belongs (grpc would only report a failed DNS lookup)."""
    if target.startswith(("http://", "https://")):
        host = urllib.parse.urlsplit(target).hostname or "127.0.0.1"
        raise ConfigError(
            f"{source} {target!r}: gRPC takes host:port without a scheme, e.g. '{host}:8500'"
        )
    return target


def _route(model: str, version: int | None, label: str | None) -> str:
    path = f"/v1/models/{model}"
    if version is not None:
        path += f"/versions/{version}"
    elif label is not None:
        path += f"/labels/{label}"
    return path


def predict_body(examples: Sequence[bytes], columnar: bool = False) -> dict[str, Any]:
    encoded = [{"b64": base64.b64encode(e).decode()} for e in examples]
    if columnar:
        return {"signature_name": "serving_default", "inputs": {INPUT_NAME: encoded}}
    return {"signature_name": "serving_default", "instances": [{INPUT_NAME: e} for e in encoded]}


class RestClient:
    def __init__(self, base_url: str, model: str, timeout: float = 30.0) -> None:
        self.base_url = check_rest_url(base_url).rstrip("/")
        self.model = model
        self.timeout = timeout

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                text = json.loads(text).get("error", text)
            raise PredictionError(
                f"{self.base_url}{path}: HTTP {exc.code}: {text}", not_found=exc.code == 404
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServerUnreachable(
                f"{self.base_url}{path}: cannot reach the server "
                f"({getattr(exc, 'reason', exc)}); is it running? "
                f"(`mlops serve --env ...`)"
            ) from None

    def status(self, version: int | None = None) -> dict[str, Any]:
        return self._call(_route(self.model, version, None))

    def metadata(self, version: int | None = None) -> dict[str, Any]:
        return self._call(_route(self.model, version, None) + "/metadata")

    def predict(
        self,
        examples: Sequence[bytes],
        *,
        version: int | None = None,
        label: str | None = None,
        columnar: bool = False,
    ) -> np.ndarray:
        body = self._call(
            _route(self.model, version, label) + ":predict", predict_body(examples, columnar)
        )
        values = body["outputs" if columnar else "predictions"]
        return np.asarray(values, dtype=np.float32).reshape(len(examples), -1)


class GrpcClient:
    """tensorflow-serving-api's PredictionService and ModelService stubs."""

    def __init__(self, target: str, model: str, timeout: float = 30.0) -> None:
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        self.target, self.model, self.timeout = check_grpc_target(target), model, timeout
        self.channel = grpc.insecure_channel(target)
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self.channel)

    def _spec(self, spec: Any, version: int | None, label: str | None) -> None:
        spec.name = self.model
        if version is not None:
            spec.version.value = version
        elif label is not None:
            spec.version_label = label

    def _rpc(self, method: Any, request: Any) -> Any:
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            message = f"{self.target}: gRPC {exc.code().name}: {exc.details()}"
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise ServerUnreachable(
                    f"{message}; is the server running? (`mlops serve --env ...`)"
                ) from None
            raise PredictionError(
                message, not_found=exc.code() == grpc.StatusCode.NOT_FOUND
            ) from None

    def predict(
        self, examples: Sequence[bytes], *, version: int | None = None, label: str | None = None
    ) -> np.ndarray:
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec, version, label)
        request.model_spec.signature_name = "serving_default"
        request.inputs[INPUT_NAME].CopyFrom(
            tf.make_tensor_proto(list(examples), dtype=tf.string, shape=[len(examples)])
        )
        response = self._rpc(self.prediction.Predict, request)
        return tf.make_ndarray(response.outputs[OUTPUT_NAME]).reshape(len(examples), -1)

    def status(self, version: int | None = None) -> dict[int, str]:
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec, version, None)
        response = self._rpc(self.models.GetModelStatus, request)
        states = get_model_status_pb2.ModelVersionStatus.State
        return {s.version: states.Name(s.state) for s in response.model_version_status}

    def close(self) -> None:
        self.channel.close()


def predict_in_batches(
    client: RestClient | GrpcClient,
    examples: Sequence[bytes],
    batching: BatchingConfig,
    version: int | None = None,
) -> np.ndarray:
    """One probability row per example, in requests a batching server accepts.

    A batching server refuses a request above max_batch_size (as TF Serving does), so each
    request carries at most that many rows; without batching, one request carries all.
    """
    step = max(1, batching.max_batch_size if batching.enabled else len(examples))
    return np.concatenate(
        [
            client.predict(examples[i : i + step], version=version)
            for i in range(0, len(examples), step)
        ]
    )
