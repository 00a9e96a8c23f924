"""Server-side batching for the local stand-in, following TF Serving's batching parameters.

With `--enable_batching`, concurrent requests for the same version and signature are joined
into one TensorFlow call of up to `max_batch_size` rows: a batch thread takes the oldest waiting
request, gathers whatever else is waiting (for up to `batch_timeout_micros`), runs them together
and hands each request its own rows back. For a small model the fixed cost of a call dominates,
so this is where throughput under concurrency comes from. A batch that fails is re-run request
by request, so one malformed request never fails its neighbours. (TF Serving also pads batches to
`allowed_batch_sizes`; the stand-in does not, which changes speed, not results.)
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from serving.model_manager import Version

Inputs = dict[str, np.ndarray]


@dataclass
class _Request:
    version: Version
    signature: str
    inputs: Inputs
    rows: int
    future: asyncio.Future


class Batcher:
    def __init__(self, executor: Executor, *, max_batch_size: int, batch_timeout_micros: int,
                 num_batch_threads: int) -> None:
        self.executor = executor
        self.max_rows = max_batch_size
        self.timeout = batch_timeout_micros / 1e6
        self.queue: asyncio.Queue[_Request] = asyncio.Queue()
        self.workers = [asyncio.create_task(self._work()) for _ in range(num_batch_threads)]

    async def predict(self, version: Version, signature: str, inputs: Inputs) -> Inputs:
        rows = len(next(iter(inputs.values())))
        if rows >= self.max_rows:  # already a full batch: run it as it is
            return await asyncio.get_running_loop().run_in_executor(
                self.executor, version.predict, signature, inputs)
        future = asyncio.get_running_loop().create_future()
        await self.queue.put(_Request(version, signature, inputs, rows, future))
        return await future

    async def _gather(self) -> list[_Request]:
        first = await self.queue.get()
        batch, rows = [first], first.rows
        deadline = time.monotonic() + self.timeout
        while rows < self.max_rows:
            try:
                nxt = self.queue.get_nowait()
            except asyncio.QueueEmpty:
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(min(0.0005, deadline - time.monotonic()))
                continue
            if (nxt.version is not first.version or nxt.signature != first.signature
                    or rows + nxt.rows > self.max_rows):
                await self.queue.put(nxt)  # another batch's; keep it waiting
                break
            batch.append(nxt)
            rows += nxt.rows
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._gather()
            head = batch[0]
            try:
                joined = {k: np.concatenate([r.inputs[k] for r in batch]) for k in head.inputs}
                outputs = await loop.run_in_executor(self.executor, head.version.predict,
                                                     head.signature, joined)
            except Exception:
                if len(batch) == 1:
                    await self._settle(head, loop)
                    continue
                for request in batch:  # find the bad request; the others still succeed
                    await self._settle(request, loop)
                continue
            start = 0
            for request in batch:
                part = {k: v[start:start + request.rows] for k, v in outputs.items()}
                start += request.rows
                if not request.future.done():
                    request.future.set_result(part)

    async def _settle(self, request: _Request, loop: Any) -> None:
        try:
            result = await loop.run_in_executor(self.executor, request.version.predict,
                                                request.signature, request.inputs)
        except Exception as exc:
            if not request.future.done():
                request.future.set_exception(exc)
            return
        if not request.future.done():
            request.future.set_result(result)

    def close(self) -> None:
        for worker in self.workers:
            worker.cancel()
