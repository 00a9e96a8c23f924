"""The request logger: receives the copies a mirror in front of TF Serving sends it, and appends
the rows they carry to the environment's request-log store (store/request_log.py).

Open-source TF Serving cannot log requests itself (no log collector is registered, so a logging
config stops it from starting: tensorflow/serving issues 408 and 1846), so sampling happens in
front of it: nginx's `mirror` copies each predict request here and drops our answer
(serving/sampling.py). The logger answers 204 at once and parses later from a bounded queue, so
a slow disk or a burst never holds the mirror's connection; when the queue is full, copies are
dropped and counted, never waited for.

    python -m serving.request_logger --store DIR --fields a,b --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from serving.example_wire import WireError, parse_example
from store.request_log import Writer

QUEUE = 10_000


def _json_values(values: Any) -> list[Any]:
    values = values if isinstance(values, list) else [values]
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]


def _instance_row(instance: Any) -> dict[str, Any] | None:
    """One request instance as a row: a b64 tf.Example, or a mapping of raw feature values."""
    if isinstance(instance, dict) and set(instance) == {"examples"}:
        instance = instance["examples"]
    if isinstance(instance, dict) and set(instance) == {"b64"}:
        try:
            example = parse_example(base64.b64decode(instance["b64"], validate=True))
        except (binascii.Error, WireError, TypeError):
            return None
        return {k: _json_values(v) for k, v in example.items()}
    if isinstance(instance, dict):
        return {k: _json_values(v) for k, v in instance.items()}
    return None


def rows_of(body: bytes) -> Iterator[dict[str, Any] | None]:
    """Rows of a TF Serving REST predict body (row or columnar format); None for each part that
    is not a row, so the caller can count it."""
    try:
        request = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        yield None
        return
    if not isinstance(request, dict):
        yield None
        return
    instances = request.get("instances")
    if instances is None:
        inputs = request.get("inputs")
        instances = inputs.get("examples") if isinstance(inputs, dict) else inputs
    if not isinstance(instances, list):
        yield None
        return
    for instance in instances:
        yield _instance_row(instance)


class Logger:
    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        self.counts = {"requests": 0, "rows": 0, "malformed": 0, "dropped": 0}

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.queue.put_nowait(body)
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
        return web.Response(status=204)

    async def health(self, _: web.Request) -> web.Response:
        return web.json_response(self.counts)

    async def drain(self) -> None:
        while True:
            body = await self.queue.get()
            rows = list(rows_of(body))
            good = [r for r in rows if r is not None]
            self.counts["requests"] += 1
            self.counts["malformed"] += len(rows) - len(good)
            try:
                self.counts["rows"] += await asyncio.to_thread(self.writer.append, good)
            except OSError as exc:  # a full or vanished disk drops samples, not the logger
                self.counts["dropped"] += len(good)
                print(f"request logger: cannot append to {self.writer.folder}: {exc}", flush=True)


async def serve(writer: Writer, host: str, port: int) -> None:
    logger = Logger(writer)
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_get("/healthz", logger.health)
    app.router.add_route("*", "/{tail:.*}", logger.receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    drain = asyncio.create_task(logger.drain())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"request logger on {host}:{port} -> {writer.folder}", flush=True)
    await stop.wait()
    drain.cancel()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, required=True)
    p.add_argument("--fields", required=True, help="comma-separated fields a sample keeps")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-file-bytes", type=int, default=1024 * 1024)
    p.add_argument("--max-files", type=int, default=10)
    args = p.parse_args(argv)
    fields = [f for f in args.fields.split(",") if f]
    writer = Writer(args.store, fields, args.max_file_bytes, args.max_files)
    asyncio.run(serve(writer, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
