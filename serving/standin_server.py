"""Local TF Serving stand-in: TF Serving's REST and gRPC contract on aiohttp and grpc.aio.

Used only where neither `tensorflow_model_server` nor a Docker engine exists (this project's own
machines, laptops without Docker). It takes the real server's flags and config files, runs the
SavedModel with TensorFlow, and answers the routes, bodies and status codes the template relies
on: model status with per-version state, metadata, `:predict` in row and columnar form with b64
tf.Examples, version and label routes, `{"error": ...}` bodies, the Prometheus metrics path, and
pick-up of new versions and config changes without a restart. It is not TF Serving: no
`:classify`/`:regress`, no TF Serving performance. GitHub runners use the real container.

    python -m serving.standin_server --port 8500 --rest_api_port 8501 \
        --model_config_file models.config [--monitoring_config_file ...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import logging
import os
import signal
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from serving.batching import Batcher
from serving.model_manager import InvalidArgument, ModelManager, NotFound, Version

log = logging.getLogger("serving.standin")
BANNER = ("local TF Serving stand-in (serving/standin_server.py), not tensorflow_model_server. "
          "For the real server install tensorflow_model_server or a Docker engine "
          "(image tensorflow/serving), or pass --backend.")
LATENCY_BUCKETS_US = (1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000)


class Metrics:
    """The counters TF Serving exports on its Prometheus path, under its metric names."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = defaultdict(lambda: [0] * len(LATENCY_BUCKETS_US))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)

    def observe(self, model: str, ok: bool, micros: float) -> None:
        self.requests[(model, "OK" if ok else "INVALID_ARGUMENT")] += 1
        for i, bound in enumerate(LATENCY_BUCKETS_US):
            if micros <= bound:
                self.latency[model][i] += 1
        self.latency_sum[model] += micros
        self.latency_count[model] += 1

    def exposition(self) -> str:
        lines = ["# TYPE :tensorflow:serving:request_count counter"]
        for (model, status), n in sorted(self.requests.items()):
            lines.append(f':tensorflow:serving:request_count{{model_name="{model}",'
                         f'status="{status}"}} {n}')
        lines.append("# TYPE :tensorflow:serving:request_latency histogram")
        for model, counts in sorted(self.latency.items()):
            labels = f'model_name="{model}",API="predict",entrypoint="REST"'
            for bound, n in zip(LATENCY_BUCKETS_US, counts, strict=True):
                lines.append(f':tensorflow:serving:request_latency_bucket{{{labels},'
                             f'le="{bound}"}} {n}')
            lines.append(f':tensorflow:serving:request_latency_bucket{{{labels},le="+Inf"}} '
                         f'{self.latency_count[model]}')
            lines.append(f":tensorflow:serving:request_latency_sum{{{labels}}} "
                         f"{self.latency_sum[model]:.0f}")
            lines.append(f":tensorflow:serving:request_latency_count{{{labels}}} "
                         f"{self.latency_count[model]}")
        return "\n".join(lines) + "\n"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _status_json(versions: list[Version]) -> dict[str, Any]:
    return {"model_version_status": [{
        "version": str(v.number), "state": v.state,
        "status": {"error_code": "UNKNOWN" if v.error else "OK", "error_message": v.error},
    } for v in versions]}


def _decode(value: Any, dtype: str, where: str) -> Any:
    """One JSON value for a tensor of `dtype`, the way TF Serving's REST layer reads it."""
    if dtype == "DT_STRING":
        if isinstance(value, dict):
            if set(value) != {"b64"} or not isinstance(value["b64"], str):
                raise InvalidArgument(f"{where}: a bytes value must be an object with a single "
                                      f'"b64" key, got {json.dumps(value)[:80]}')
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise InvalidArgument(f"{where}: Unable to base64 decode") from None
        if isinstance(value, str):
            return value.encode()
        raise InvalidArgument(f"{where}: JSON Value: {json.dumps(value)[:80]} Type: "
                              f"{type(value).__name__} is not of expected type: string")
    if isinstance(value, bool) or not isinstance(value, int | float | list):
        raise InvalidArgument(f"{where}: JSON Value: {json.dumps(value)[:80]} is not a number")
    return value


class StandInServer:
    def __init__(self, manager: ModelManager, executor: ThreadPoolExecutor, *,
                 monitoring_path: str | None, max_request_bytes: int,
                 batcher: Batcher | None = None) -> None:
        self.manager = manager
        self.executor = executor
        self.batcher = batcher
        self.monitoring_path = monitoring_path
        self.max_request_bytes = max_request_bytes
        self.metrics = Metrics()

    # --- REST ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_request_bytes,
                              middlewares=[self._json_errors])
        model = r"/v1/models/{name:[^/:]+}"
        for suffix in ("", r"/versions/{version:\d+}", r"/labels/{label:[A-Za-z0-9_]+}"):
            app.router.add_get(model + suffix, self.status)
            app.router.add_get(model + suffix + "/metadata", self.metadata)
            app.router.add_post(model + suffix + ":predict", self.predict)
        if self.monitoring_path:
            app.router.add_get(self.monitoring_path, self.prometheus)
        return app

    @web.middleware
    async def _json_errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _error(exc.status, exc.reason or exc.text or "error")

    @staticmethod
    def _target(request: web.Request) -> tuple[str, int | None, str | None]:
        m = request.match_info
        return m["name"], int(m["version"]) if "version" in m else None, m.get("label")

    async def status(self, request: web.Request) -> web.Response:
        name, version, label = self._target(request)
        try:
            return web.json_response(_status_json(self.manager.status(name, version, label)))
        except NotFound as exc:
            return _error(404, str(exc))

    async def metadata(self, request: web.Request) -> web.Response:
        from google.protobuf import json_format

        name, version, label = self._target(request)
        try:
            v = self.manager.resolve(name, version, label)
        except NotFound as exc:
            return _error(404, str(exc))
        defs = {k: json_format.MessageToDict(d, preserving_proto_field_name=True)
                for k, d in v.signature_defs.items()}
        return web.json_response({
            "model_spec": {"name": name, "signature_name": "", "version": str(v.number)},
            "metadata": {"signature_def": {
                "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap",
                "signature_def": defs}}})

    async def predict(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        name, version, label = self._target(request)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"Request body larger than the limit of {self.max_request_bytes} "
                               f"bytes")
        ok = False
        try:
            v = self.manager.resolve(name, version, label)
            try:
                body = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InvalidArgument(f"JSON Parse error: {exc}") from None
            signature_name, inputs, columnar = self._parse_predict(body, v)
            outputs = await self.run(v, signature_name, inputs)
            ok = True
            return web.json_response(_predict_json(outputs, columnar))
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidArgument as exc:
            return _error(400, str(exc))
        finally:
            self.metrics.observe(name, ok, (time.perf_counter() - started) * 1e6)

    async def run(self, v: Version, signature: str, inputs: dict[str, np.ndarray]
                  ) -> dict[str, np.ndarray]:
        if self.batcher is not None:
            return await self.batcher.predict(v, signature, inputs)
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, v.predict, signature, inputs)

    @staticmethod
    def _parse_predict(body: Any, v: Version) -> tuple[str, dict[str, np.ndarray], bool]:
        if not isinstance(body, dict):
            raise InvalidArgument("JSON body must be an object with 'instances' or 'inputs'")
        signature_name = body.get("signature_name", "serving_default")
        sig = v.signature_defs.get(signature_name)
        if sig is None:
            raise InvalidArgument(f'Serving signature name: "{signature_name}" not found in '
                                  f"signature def")
        names = sorted(sig.inputs)
        from tensorflow.core.framework import types_pb2

        dtypes = {n: types_pb2.DataType.Name(sig.inputs[n].dtype) for n in names}
        if ("instances" in body) == ("inputs" in body):
            raise InvalidArgument("Missing 'inputs' or 'instances' key" if "instances" not in body
                                  else "Both 'instances' and 'inputs' were specified")
        columnar = "inputs" in body
        if columnar:
            data = body["inputs"]
            named = data if isinstance(data, dict) else (
                {names[0]: data} if len(names) == 1 else None)
            if named is None:
                raise InvalidArgument(f"'inputs' must name each input ({', '.join(names)})")
        else:
            data = body["instances"]
            if not isinstance(data, list) or not data:
                raise InvalidArgument("'instances' must be a non-empty list")
            if all(isinstance(i, dict) and "b64" not in i for i in data):
                named = {n: [] for n in names}
                for i, instance in enumerate(data):
                    if set(instance) != set(names):
                        raise InvalidArgument(
                            f"instances[{i}]: expected input(s) {', '.join(names)}, got "
                            f"{', '.join(sorted(instance)) or 'none'}")
                    for n in names:
                        named[n].append(instance[n])
            elif len(names) == 1:
                named = {names[0]: data}
            else:
                raise InvalidArgument(f"each instance must name the inputs {', '.join(names)}")
        unknown = sorted(set(named) - set(names))
        if unknown:
            raise InvalidArgument(f"input {unknown[0]!r} is not an input of signature "
                                  f"{signature_name!r} (inputs: {', '.join(names)})")
        inputs = {}
        for n, values in named.items():
            if not isinstance(values, list) or not values:
                raise InvalidArgument(f"input {n!r} must be a non-empty list")
            decoded = [_decode(x, dtypes[n], f"{n}[{i}]") for i, x in enumerate(values)]
            inputs[n] = np.asarray(decoded, dtype=object if dtypes[n] == "DT_STRING" else None)
        return signature_name, inputs, columnar

    async def prometheus(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.exposition(), content_type="text/plain")

    # --- gRPC -----------------------------------------------------------------------------------

    def grpc_servicers(self) -> tuple[Any, Any]:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import (
            get_model_metadata_pb2,
            get_model_status_pb2,
            model_service_pb2_grpc,
            predict_pb2,
            prediction_service_pb2_grpc,
        )

        server = self
        state_enum = get_model_status_pb2.ModelVersionStatus.State

        def target(spec: Any) -> Version:
            which = spec.WhichOneof("version_choice")
            return server.manager.resolve(
                spec.name, spec.version.value if which == "version" else None,
                spec.version_label if which == "version_label" else None)

        class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
            async def Predict(self, request: Any, context: Any) -> Any:
                started = time.perf_counter()
                ok = False
                try:
                    v = target(request.model_spec)
                    inputs = {k: tf.make_ndarray(t) for k, t in request.inputs.items()}
                    name = request.model_spec.signature_name or "serving_default"
                    outputs = await server.run(v, name, inputs)
                    response = predict_pb2.PredictResponse()
                    response.model_spec.name = request.model_spec.name
                    response.model_spec.version.value = v.number
                    response.model_spec.signature_name = name
                    for k, value in outputs.items():
                        response.outputs[k].CopyFrom(tf.make_tensor_proto(value))
                    ok = True
                    return response
                except NotFound as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
                except InvalidArgument as exc:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
                finally:
                    server.metrics.observe(request.model_spec.name, ok,
                                           (time.perf_counter() - started) * 1e6)

            async def GetModelMetadata(self, request: Any, context: Any) -> Any:
                from tensorflow_serving.apis import get_model_metadata_pb2 as md

                try:
                    v = target(request.model_spec)
                except NotFound as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
                response = md.GetModelMetadataResponse()
                response.model_spec.name = request.model_spec.name
                response.model_spec.version.value = v.number
                sig_map = get_model_metadata_pb2.SignatureDefMap()
                for k, d in v.signature_defs.items():
                    sig_map.signature_def[k].CopyFrom(d)
                response.metadata["signature_def"].Pack(sig_map)
                return response

        class Status(model_service_pb2_grpc.ModelServiceServicer):
            async def GetModelStatus(self, request: Any, context: Any) -> Any:
                spec = request.model_spec
                which = spec.WhichOneof("version_choice")
                try:
                    versions = server.manager.status(
                        spec.name, spec.version.value if which == "version" else None,
                        spec.version_label if which == "version_label" else None)
                except NotFound as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
                response = get_model_status_pb2.GetModelStatusResponse()
                for v in versions:
                    s = response.model_version_status.add()
                    s.version = v.number
                    s.state = state_enum.Value(v.state)
                    s.status.error_message = v.error
                return response

        return Prediction(), Status()


def _predict_json(outputs: dict[str, np.ndarray], columnar: bool) -> dict[str, Any]:
    def plain(a: np.ndarray) -> Any:
        if a.dtype == object:
            return [base64.b64encode(x).decode() for x in a.ravel()]
        return a.tolist()

    if columnar:
        if len(outputs) == 1:
            return {"outputs": plain(next(iter(outputs.values())))}
        return {"outputs": {k: plain(v) for k, v in outputs.items()}}
    if len(outputs) == 1:
        return {"predictions": plain(next(iter(outputs.values())))}
    n = len(next(iter(outputs.values())))
    return {"predictions": [{k: plain(v[i:i + 1])[0] for k, v in outputs.items()}
                            for i in range(n)]}


def build_parser() -> argparse.ArgumentParser:
    """The subset of tensorflow_model_server's flags the template uses, under the same names."""
    p = argparse.ArgumentParser(prog="python -m serving.standin_server", description=BANNER)
    p.add_argument("--port", type=int, required=True, help="gRPC port")
    p.add_argument("--rest_api_port", type=int, required=True)
    p.add_argument("--rest_api_host", default="127.0.0.1")
    p.add_argument("--model_config_file", type=Path, required=True)
    p.add_argument("--model_config_file_poll_wait_seconds", type=int, default=0)
    p.add_argument("--file_system_poll_wait_seconds", type=int, default=1)
    p.add_argument("--monitoring_config_file", type=Path)
    p.add_argument("--enable_batching", type=lambda s: s.lower() == "true", default=False)
    p.add_argument("--batching_parameters_file", type=Path)
    p.add_argument("--max_request_bytes", type=int, default=4 * 1024 * 1024,
                   help="(stand-in only) REST body limit; TF Serving's gRPC default is 4 MiB")
    return p


def _batching(path: Path | None) -> Any:
    from google.protobuf import text_format

    from serving.extra_protos import message_class

    message = message_class("BatchingParameters")()
    return text_format.Parse(path.read_text(), message) if path else message


def _monitoring_path(path: Path | None) -> str | None:
    if path is None:
        return None
    from google.protobuf import text_format

    from serving.extra_protos import message_class

    cfg = text_format.Parse(path.read_text(), message_class("MonitoringConfig")())
    return cfg.prometheus_config.path if cfg.prometheus_config.enable else None


async def serve(args: argparse.Namespace) -> None:
    import grpc
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    if args.batching_parameters_file and not args.enable_batching:
        raise SystemExit("--batching_parameters_file requires --enable_batching=true "
                         "(tensorflow_model_server refuses to start the same way)")
    executor = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                                  thread_name_prefix="predict")
    manager = ModelManager(args.model_config_file, executor,
                           file_system_poll_seconds=args.file_system_poll_wait_seconds,
                           config_poll_seconds=args.model_config_file_poll_wait_seconds)
    manager.read_config()
    batcher = None
    if args.enable_batching:
        params = _batching(args.batching_parameters_file)
        batcher = Batcher(executor, max_batch_size=params.max_batch_size.value or 1000,
                          batch_timeout_micros=params.batch_timeout_micros.value,
                          num_batch_threads=params.num_batch_threads.value or 2)
    server = StandInServer(manager, executor,
                           monitoring_path=_monitoring_path(args.monitoring_config_file),
                           max_request_bytes=args.max_request_bytes, batcher=batcher)
    log.warning(BANNER)
    await manager.sync()
    poller = asyncio.create_task(manager.run())

    grpc_server = grpc.aio.server(options=[("grpc.max_receive_message_length",
                                            args.max_request_bytes)])
    prediction, status = server.grpc_servicers()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(status, grpc_server)
    grpc_server.add_insecure_port(f"{args.rest_api_host}:{args.port}")
    await grpc_server.start()

    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.rest_api_host, args.rest_api_port).start()
    ready = [f"{m.name}: " + (", ".join(f"version {v.number} {v.state}"
                                         for v in m.versions.values()) or "no version yet")
             for m in manager.models.values()]
    log.warning("REST on http://%s:%d, gRPC on %s:%d; %s", args.rest_api_host,
                args.rest_api_port, args.rest_api_host, args.port, "; ".join(ready))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    poller.cancel()
    await grpc_server.stop(grace=2)
    await runner.cleanup()
    executor.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
