"""The request logger: receives the copies a mirror in front of TF Serving sends it, and appends
the rows they carry to the environment's request-log store (store/request_log.py).

Open-source TF Serving cannot log requests itself (no log collector is registered, so a logging
config stops it from starting: tensorflow/serving issues 408 and 1846), so sampling happens in
front of it: nginx's `mirror` copies each predict request here and drops our answer
(serving/sampling.py). The logger answers 204 at once and parses later from a bounded queue, so
a slow disk or a burst never holds the mirror's connection; when the queue is full, copies are
dropped and counted, never waited for.

With a remote store (`--store oci://REGISTRY/REPOSITORY` or `gs://BUCKET/PATH`, `--spool DIR`)
the rows go to the local spool DIR, rotated as in a folder store, and a thread of its own
publishes each rotated file (store.request_log.Publisher): a slow or failing store delays no
copy and no append; a failure is printed, counted (/healthz `publish_failures`) and retried
at the next rotation. On SIGTERM the current file is rotated and published, for at most
FLUSH_SECONDS.

    python -m serving.request_logger --store DIR --fields a,b --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import web

from core.uris import is_remote, request_log_store_problem
from serving.example_wire import WireError, parse_example
from store import request_log as L
from store.request_log import Publisher, Writer

QUEUE = 10_000
FLUSH_SECONDS = 10.0


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
    def __init__(self, writer: Writer, publisher: Publisher | None = None) -> None:
        self.writer, self.publisher = writer, publisher
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE)
        self.counts = {"requests": 0, "rows": 0, "malformed": 0, "dropped": 0}
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        if publisher is not None:
            self._thread = threading.Thread(target=self._publish_loop, daemon=True)
            self._thread.start()
            self._wake.set()  # files a previous run left in the spool

    def _publish_loop(self) -> None:
        """Off the request path: wait for a rotation, publish; a failure waits for the next."""
        assert self.publisher is not None
        while True:
            self._wake.wait()
            self._wake.clear()
            last = self._stopping  # set during a publish: one more round for the last file
            problem = self.publisher.publish_pending()
            if problem:
                print(f"request logger: {problem}; retried at the next rotation", flush=True)
            if last:
                return

    def flush(self, seconds: float = FLUSH_SECONDS) -> None:
        """At shutdown: close the current file and give the publisher `seconds` to send it."""
        if self._thread is None:
            return
        if (self.writer.folder / L.CURRENT).exists():
            self.writer.rotate()
        self._stopping = True
        self._wake.set()
        self._thread.join(seconds)

    async def receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            self.queue.put_nowait(body)
        except asyncio.QueueFull:
            self.counts["dropped"] += 1
        return web.Response(status=204)

    async def health(self, _: web.Request) -> web.Response:
        counts = {**self.counts, "spool_dropped_files": self.writer.dropped_files}
        return web.json_response({**counts, **(self.publisher.counts if self.publisher else {})})

    async def drain(self) -> None:
        while True:
            body = await self.queue.get()
            rows = list(rows_of(body))
            good = [r for r in rows if r is not None]
            self.counts["requests"] += 1
            self.counts["malformed"] += len(rows) - len(good)
            rotations = self.writer.rotations
            try:
                self.counts["rows"] += await asyncio.to_thread(self.writer.append, good)
            except OSError as exc:  # a full or vanished disk drops samples, not the logger
                self.counts["dropped"] += len(good)
                print(f"request logger: cannot append to {self.writer.folder}: {exc}", flush=True)
            if self.writer.rotations != rotations:
                self._wake.set()  # the publisher thread, if any: never awaited here


async def serve(writer: Writer, host: str, port: int, publisher: Publisher | None = None) -> None:
    logger = Logger(writer, publisher)
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
    target = f"{writer.folder} -> {publisher.uri}" if publisher else str(writer.folder)
    print(f"request logger on {host}:{port} -> {target}", flush=True)
    await stop.wait()
    drain.cancel()
    await runner.cleanup()
    await asyncio.to_thread(logger.flush)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--store", required=True, help="a folder, oci://REGISTRY/REPOSITORY or gs://BUCKET/PATH"
    )
    p.add_argument("--spool", type=Path, help="with a remote store: the local folder it fills")
    p.add_argument("--fields", required=True, help="comma-separated fields a sample keeps")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--max-file-bytes", type=int, default=1024 * 1024)
    p.add_argument("--max-files", type=int, default=10)
    args = p.parse_args(argv)
    fields = [f for f in args.fields.split(",") if f]
    problem = request_log_store_problem(args.store)
    if problem:
        p.error(f"--store {args.store!r}: {problem}")
    publisher = None
    if is_remote(args.store):
        if args.spool is None:
            p.error(f"--store {args.store!r} is remote: --spool DIR is required")
        publisher = Publisher(args.store, args.spool, args.max_files)
    folder = args.spool if publisher else Path(args.store)
    writer = Writer(folder, fields, args.max_file_bytes, args.max_files)
    asyncio.run(serve(writer, args.host, args.port, publisher))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
