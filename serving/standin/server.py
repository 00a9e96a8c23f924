"""Local TF Serving stand-in: TF Serving's REST and gRPC contract on aiohttp and grpc.aio.

Used only where neither `tensorflow_model_server` nor a Docker engine exists (this project's own
machines, laptops without Docker). It takes the real server's flags and config files, runs the
SavedModel with TensorFlow, and answers as upstream's `http_rest_api_handler.cc`,
`http_server.cc` and `prediction_service_impl.cc` do: the same routes (matched case-insensitively,
anything else under `/v1/` is 400 "Malformed request"), the body parsed before the model is
looked up, `{"error": ...}` bodies with upstream's status code for each error, labels refused on
versions that are not loaded, and upstream's Prometheus metric names. Where it stays different
is listed in README.md (Serving). `tests/serving/contract_cases.yaml` holds the cases, and CI
runs them against the real server too.

    python -m serving.standin.server --port 8500 --rest_api_port 8501 \
        --model_config_file models.config [--monitoring_config_file ...]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
import time
import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web

from serving.config_files import allowed_sizes_error
from serving.standin import rest_json
from serving.standin.batching import Batcher
from serving.standin.faults import Faults
from serving.standin.model_manager import (
    FailedPrecondition,
    InvalidArgument,
    ModelManager,
    ServingError,
    Version,
)

log = logging.getLogger("serving.standin")
BANNER = (
    "local TF Serving stand-in (serving/standin/server.py), not tensorflow_model_server. "
    "For the real server install tensorflow_model_server or a Docker engine "
    "(image tensorflow/serving), or pass --backend."
)

# http_server.cc ToHTTPStatusCode.
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}
# http_rest_api_util.cc: the routes, matched against the whole path, case-insensitively.
V1_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)
PREDICT_PATH = re.compile(
    r"/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
    r":(classify|regress|predict)",
    re.IGNORECASE | re.ASCII,
)
STATUS_PATH = re.compile(
    r"/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?"
    r"(?:/(metadata))?",
    re.IGNORECASE | re.ASCII,
)
INT64_MAX = 2**63 - 1


def _exponential(scale: float, growth: float, count: int) -> tuple[float, ...]:
    """TensorFlow's monitoring::Buckets::Exponential, with its final DBL_MAX bucket: each bound
    the previous one times `growth`, as sampler.cc multiplies (not scale * growth**i)."""
    bounds, bound = [], scale
    for _ in range(count):
        bounds.append(bound)
        bound *= growth
    return (*bounds, float("inf"))


LATENCY_BUCKETS = _exponential(10, 1.8, 33)  # microseconds, as util.cc's request_latency
BATCH_BUCKETS = _exponential(1, 2, 14)  # batching_util.h's batch-size histograms


class _Histogram:
    """A TensorFlow Sampler cell: bucket i counts values below limit i (upper_bound)."""

    def __init__(self, limits: tuple[float, ...]) -> None:
        self.limits, self.counts, self.sum = limits, [0] * len(limits), 0.0

    def add(self, value: float) -> None:
        i = next((i for i, limit in enumerate(self.limits) if value < limit), len(self.limits) - 1)
        self.counts[i] += 1
        self.sum += value


def _number(x: float) -> str:
    return f"{x:.6g}"


class Metrics:
    """What TF Serving's Prometheus exporter prints, for the metrics the stand-in has."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.latency: dict[tuple[str, str, str], _Histogram] = {}
        self.batching: dict[tuple[str, str], _Histogram] = {}

    def request(self, model: str, code: str, api: str, entrypoint: str, micros: float) -> None:
        """util.cc: every request counts under its status; only OK ones add latency."""
        self.requests[(model, code)] += 1
        if code == "OK":
            self.latency.setdefault((model, api, entrypoint), _Histogram(LATENCY_BUCKETS)).add(
                micros
            )

    def batch(self, name: str, value: float, label: str = "") -> None:
        self.batching.setdefault((name, label), _Histogram(BATCH_BUCKETS)).add(value)

    @staticmethod
    def _histogram(name: str, labels: str, h: _Histogram) -> list[str]:
        prefix = f"{name}_bucket{{{labels}{',' if labels else ''}"
        lines, total = [], 0
        for i, (limit, n) in enumerate(zip(h.limits, h.counts, strict=True)):
            total += n
            le = "+Inf" if i == len(h.limits) - 1 else _number(limit)
            lines.append(f'{prefix}le="{le}"}} {total}')
        lines += [f"{name}_sum{{{labels}}} {_number(h.sum)}", f"{name}_count{{{labels}}} {total}"]
        return lines

    def exposition(self) -> str:
        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace('"', '\\"')

        # prometheus_exporter.cc walks the metrics by name (/tensorflow/serving/batching_session/
        # sorts before request_count), each one's cells by label values.
        lines = self._batching_lines()
        name = ":tensorflow:serving:request_count"
        lines.append(f"# TYPE {name} counter")
        lines += [
            f'{name}{{model_name="{esc(m)}",status="{c}"}} {n}'
            for (m, c), n in sorted(self.requests.items())
        ]
        name = ":tensorflow:serving:request_latency"
        lines.append(f"# TYPE {name} histogram")
        for (m, api, entry), h in sorted(self.latency.items()):
            lines += self._histogram(
                name, f'model_name="{esc(m)}",API="{esc(api)}",entrypoint="{entry}"', h
            )
        return "\n".join(lines) + "\n"

    def _batching_lines(self) -> list[str]:
        lines: list[str] = []
        for metric in ("input_batch_size", "padding_size", "processed_batch_size"):
            cells = sorted((label, h) for (n, label), h in self.batching.items() if n == metric)
            if not cells:
                continue
            name = f":tensorflow:serving:batching_session:{metric}"
            lines.append(f"# TYPE {name} histogram")
            for label, h in cells:
                lines += self._histogram(
                    name, f'execution_batch_size="{label}"' if label else "", h
                )
        return lines


def _status_json(versions: list[Version]) -> dict[str, Any]:
    return {
        "model_version_status": [
            {
                "version": str(v.number),
                "state": v.state,
                "status": {"error_code": v.error_code, "error_message": v.error},
            }
            for v in versions
        ]
    }


class StandInServer:
    def __init__(
        self,
        manager: ModelManager,
        executor: ThreadPoolExecutor,
        *,
        monitoring_path: str | None,
        max_request_bytes: int,
        batcher: Batcher | None = None,
        metrics: Metrics | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.manager = manager
        self.executor = executor
        self.batcher = batcher
        self.monitoring_path = monitoring_path
        self.max_request_bytes = max_request_bytes
        self.metrics = metrics or Metrics()
        self.faults = faults or Faults()

    # --- REST ---------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.max_request_bytes, middlewares=[self._never_an_html_page]
        )
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    @web.middleware
    async def _never_an_html_page(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Whatever goes wrong, the answer is a JSON error body, never aiohttp's HTML page."""
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return web.json_response(
                {"error": exc.reason or exc.text or "error"}, status=exc.status
            )
        except Exception as exc:  # a stand-in bug: say so, in JSON (the fuzz test hunts these)
            log.exception("stand-in error on %s %s", request.method, request.path)
            return web.json_response({"error": f"stand-in internal error: {exc!r}"}, status=500)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.rel_url.raw_path
        if self.monitoring_path and path == self.monitoring_path:
            # http_server.cc sets exactly `Content-Type: text/plain` (no charset parameter).
            return web.Response(
                body=self.metrics.exposition().encode(), headers={"Content-Type": "text/plain"}
            )
        if not V1_PATH.fullmatch(path):
            return web.json_response({"error": f"Not found: {path}"}, status=404)
        started = time.perf_counter()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response(
                {"error": f"Request body larger than the limit of {self.max_request_bytes} bytes"},
                status=413,
            )
        # http_rest_api_handler.cc fills model_name and method from the path before it
        # processes the body, so a failed prediction still counts under its model.
        seen: dict[str, str] = {"model": "", "api": ""}
        model, api, code, body = "", "", "OK", None
        try:
            if request.method == "OPTIONS":  # CORS preflight (http_server.cc)
                if not re.search(r"https?://", request.headers.get("Origin", "")):
                    raise FailedPrecondition("Origin header is missing in CORS preflight")
            else:
                model, api, body = await self._process(request.method, path, raw, seen)
        except ServingError as exc:
            code, body = exc.code, {"error": str(exc)}
            model, api = seen["model"], seen["api"]
        self.metrics.request(model, code, api, "REST", (time.perf_counter() - started) * 1e6)
        if request.method == "OPTIONS":  # upstream writes no body for a preflight, even a 400
            return web.Response(status=HTTP_STATUS.get(code, 500), content_type="application/json")
        if body is None:
            return web.Response(status=200, content_type="application/json")
        return web.json_response(body, status=HTTP_STATUS.get(code, 500))

    async def _process(
        self, method: str, path: str, raw: bytes, seen: dict[str, str]
    ) -> tuple[str, str, dict[str, Any]]:
        """(model name, API, body) for one /v1/ request, in upstream's order of checks."""
        malformed = InvalidArgument(f"Malformed request: {method} {path}")
        match = (PREDICT_PATH if method == "POST" else STATUS_PATH).fullmatch(path)
        if method not in ("GET", "POST") or match is None:
            raise malformed
        name = urllib.parse.unquote(match.group(1) or "")
        if match.group(2) and int(match.group(2)) > INT64_MAX:
            raise InvalidArgument(f"Failed to convert version: {match.group(2)} to numeric.")
        version = int(match.group(2)) if match.group(2) else None
        label = urllib.parse.unquote(match.group(3)) if match.group(3) else None
        seen["model"] = name
        if method == "POST":
            api = match.group(4)
            seen["api"] = api
            if api == "predict":
                return name, api, await self.predict(name, version, label, raw)
            if api in ("classify", "regress"):
                rest_json.parse_body(raw)
                raise InvalidArgument(
                    f"the local TF Serving stand-in does not implement :{api}; use :predict"
                )
            raise malformed  # upstream compares the method name case-sensitively
        if not name:
            raise InvalidArgument("Missing model name in request.")
        if match.group(4) == "metadata":
            return name, "", self.metadata(name, version, label)
        return name, "", _status_json(self.manager.status(name, version))

    def metadata(self, name: str, version: int | None, label: str | None) -> dict[str, Any]:
        from google.protobuf import json_format

        v = self.manager.resolve(name, version, label)
        defs = {
            k: json_format.MessageToDict(
                d, preserving_proto_field_name=True, including_default_value_fields=True
            )
            for k, d in v.signature_defs.items()
        }
        return {
            "model_spec": {"name": name, "signature_name": "", "version": str(v.number)},
            "metadata": {"signature_def": {"signature_def": defs}},
        }

    async def predict(
        self, name: str, version: int | None, label: str | None, raw: bytes
    ) -> dict[str, Any]:
        if self.faults.active:
            await self.faults.before_predict()
        doc = rest_json.parse_body(raw)  # upstream parses the body before the model lookup
        signature = rest_json.signature_name(doc) or "serving_default"
        v = self.manager.resolve(name, version, label)
        sig = v.signature_defs.get(signature)
        if sig is None:
            raise InvalidArgument(
                f'Serving signature name: "{signature}" not found in signature def'
            )
        from tensorflow.core.framework import types_pb2

        dtypes = {n: types_pb2.DataType.Name(t.dtype) for n, t in sig.inputs.items()}
        inputs, columnar = rest_json.predict_inputs(doc, dtypes)
        outputs = await self.run(v, signature, inputs)
        return rest_json.predict_json(outputs, columnar)

    async def run(
        self, v: Version, signature: str, inputs: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        if self.batcher is not None:
            return await self.batcher.predict(v, signature, inputs)
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, v.predict, signature, inputs
        )

    # --- gRPC -----------------------------------------------------------------------------------

    def grpc_servicers(self) -> tuple[Any, Any]:
        from serving.standin.grpc import servicers

        return servicers(self)


def _flag(value: str) -> bool:
    """A boolean flag as TensorFlow's flag parser reads it."""
    if value.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
    return value.lower() in ("true", "1")


def build_parser() -> argparse.ArgumentParser:
    """The subset of tensorflow_model_server's flags the template uses, under the same names."""
    p = argparse.ArgumentParser(prog="python -m serving.standin.server", description=BANNER)
    p.add_argument("--port", type=int, required=True, help="gRPC port")
    p.add_argument("--rest_api_port", type=int, required=True)
    p.add_argument("--rest_api_host", default="127.0.0.1")
    p.add_argument("--model_config_file", type=Path, required=True)
    p.add_argument("--model_config_file_poll_wait_seconds", type=int, default=0)
    p.add_argument("--file_system_poll_wait_seconds", type=int, default=1)
    p.add_argument("--monitoring_config_file", type=Path)
    p.add_argument("--enable_batching", type=_flag, nargs="?", const=True, default=False)
    p.add_argument(
        "--allow_version_labels_for_unavailable_models",
        type=_flag,
        nargs="?",
        const=True,
        default=False,
        help="allow a new label on a version that is not loaded yet",
    )
    p.add_argument("--batching_parameters_file", type=Path)
    p.add_argument(
        "--max_request_bytes",
        type=int,
        default=4 * 1024 * 1024,
        help="(stand-in only) REST body limit; TF Serving's gRPC default is 4 MiB",
    )
    p.add_argument(
        "--test_failure_ratio",
        type=float,
        default=0.0,
        help="(stand-in only, tests) this share of REST predictions fails with UNAVAILABLE",
    )
    p.add_argument(
        "--test_delay_ms",
        type=float,
        default=0.0,
        help="(stand-in only, tests) every REST prediction waits this long first",
    )
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
        raise SystemExit(
            "--batching_parameters_file requires --enable_batching=true "
            "(tensorflow_model_server refuses to start the same way)"
        )
    executor = ThreadPoolExecutor(
        max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="predict"
    )
    metrics = Metrics()
    batcher, load_error = None, ""
    if args.enable_batching:
        # Upstream's defaults when a field is unset (BasicBatchScheduler::QueueOptions).
        params = _batching(args.batching_parameters_file)
        max_batch = params.max_batch_size.value if params.HasField("max_batch_size") else 1000
        allowed = list(params.allowed_batch_sizes)
        load_error = allowed_sizes_error(max_batch, allowed) or ""
        batcher = Batcher(
            executor,
            max_batch_size=max_batch,
            batch_timeout_micros=params.batch_timeout_micros.value,
            num_batch_threads=params.num_batch_threads.value or (os.cpu_count() or 2),
            max_enqueued_batches=(
                params.max_enqueued_batches.value if params.HasField("max_enqueued_batches") else 10
            ),
            allowed_batch_sizes=allowed,
            observe=metrics.batch,
        )
    manager = ModelManager(
        args.model_config_file,
        executor,
        file_system_poll_seconds=args.file_system_poll_wait_seconds,
        config_poll_seconds=args.model_config_file_poll_wait_seconds,
        allow_labels_for_unavailable=(args.allow_version_labels_for_unavailable_models),
        load_error=load_error,
    )
    try:
        manager.read_config()
    except FailedPrecondition as exc:  # tensorflow_model_server exits the same way
        raise SystemExit(
            f"{exc}. Set --allow_version_labels_for_unavailable_models=true, or "
            f"label a version only once it is loaded"
        ) from None
    server = StandInServer(
        manager,
        executor,
        monitoring_path=_monitoring_path(args.monitoring_config_file),
        max_request_bytes=args.max_request_bytes,
        batcher=batcher,
        metrics=metrics,
        faults=Faults(args.test_failure_ratio, args.test_delay_ms),
    )
    log.warning(BANNER)
    await manager.sync()
    poller = asyncio.create_task(manager.run())

    grpc_server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", args.max_request_bytes)]
    )
    prediction, status = server.grpc_servicers()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(prediction, grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(status, grpc_server)
    grpc_server.add_insecure_port(f"{args.rest_api_host}:{args.port}")
    await grpc_server.start()

    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.rest_api_host, args.rest_api_port).start()
    ready = [
        f"{m.name}: "
        + (
            ", ".join(f"version {v.number} {v.state}" for v in m.versions.values())
            or "no version yet"
        )
        for m in manager.models.values()
    ]
    log.warning(
        "REST on http://%s:%d, gRPC on %s:%d; %s",
        args.rest_api_host,
        args.rest_api_port,
        args.rest_api_host,
        args.port,
        "; ".join(ready),
    )

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
    # Both servers are closed: end without the interpreter's teardown, which with TensorFlow
    # loaded took about 2.5 s after the last line of the log, time `mlops serve --stop` and
    # every test that stops a server waited out.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
