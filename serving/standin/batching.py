"""Server-side batching for the local stand-in, following TF Serving's batching parameters.

With `--enable_batching`, requests for the same version and signature are queued into batches
of up to `max_batch_size` rows, as TF Serving's shared batch scheduler does: a request joins the
open batch when it fits, else opens a new one; a batch runs when it is full, when
`batch_timeout_micros` has passed since it opened, or when it is no longer the open one. Upstream
rules the stand-in keeps:
- a request with more rows than `max_batch_size` is refused (INVALID_ARGUMENT, "Task size N is
  larger than maximum input batch size M");
- when the open batch cannot take a request and `max_enqueued_batches` batches already wait,
  the request is refused with UNAVAILABLE (HTTP 503): the queue is full;
- a batch is one TensorFlow call, so when it fails every request in it gets that error
  (upstream's BatchingSession hands the batch's status to each of its tasks).
It records upstream's batch-size histograms (`:tensorflow:serving:batching_session:*`). It does
not pad batches to `allowed_batch_sizes` (that changes speed, not results), but reports the
padded size in the metrics as upstream does.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from serving.standin.model_manager import InvalidArgument, Unavailable, Version

Inputs = dict[str, np.ndarray]
Observe = Callable[[str, float], None]


@dataclass
class _Task:
    inputs: Inputs
    rows: int
    future: asyncio.Future


@dataclass
class _Batch:
    version: Version
    signature: str
    opened: float
    key: tuple = ()
    tasks: list[_Task] = field(default_factory=list)
    rows: int = 0


def batch_size(inputs: Inputs) -> int:
    """The 0th dimension every input shares (upstream's ComputeTensorBatchSize)."""
    if not inputs:
        raise InvalidArgument("Batching Run() must have at least one input tensor")
    sizes = set()
    for value in inputs.values():
        if value.ndim == 0:
            raise InvalidArgument("Batching Run() input tensors must have at least one dimension")
        sizes.add(value.shape[0])
    if len(sizes) > 1:
        raise InvalidArgument("Batching Run() input tensors must have equal 0th-dimension size")
    return sizes.pop()


class Batcher:
    def __init__(
        self,
        executor: Executor,
        *,
        max_batch_size: int,
        batch_timeout_micros: int,
        num_batch_threads: int,
        max_enqueued_batches: int,
        allowed_batch_sizes: Sequence[int] = (),
        observe: Observe | None = None,
    ) -> None:
        self.executor = executor
        self.max_rows = max_batch_size
        self.timeout = batch_timeout_micros / 1e6
        self.max_enqueued = max_enqueued_batches
        self.allowed = sorted(allowed_batch_sizes)
        self.observe = observe or (lambda name, value: None)
        self.queues: dict[tuple, deque[_Batch]] = {}
        self.wake = asyncio.Event()
        self.workers = [asyncio.create_task(self._work()) for _ in range(num_batch_threads)]

    async def predict(self, version: Version, signature: str, inputs: Inputs) -> Inputs:
        rows = batch_size(inputs)
        for value in inputs.values():
            self.observe("input_batch_size", float(len(value)))
        if rows > self.max_rows:
            raise InvalidArgument(
                f"Task size {rows} is larger than maximum input batch size {self.max_rows}"
            )
        # Upstream keeps one queue per signature of tensors; tensors whose shapes cannot be
        # joined get their own queue here, so they fail alone with the model's own error.
        key = (
            id(version),
            signature,
            tuple(sorted((k, v.shape[1:], v.dtype.str) for k, v in inputs.items())),
        )
        queue = self.queues.setdefault(key, deque())
        if not queue or queue[-1].rows + rows > self.max_rows:
            if len(queue) >= self.max_enqueued:
                raise Unavailable(
                    f"The batch scheduling queue to which this task was "
                    f"submitted is full; currently {len(queue)} batches enqueued "
                    f"and max_enqueued_batches is {self.max_enqueued}"
                )
            queue.append(_Batch(version, signature, time.monotonic(), key))
        task = _Task(inputs, rows, asyncio.get_running_loop().create_future())
        queue[-1].tasks.append(task)
        queue[-1].rows += rows
        self.wake.set()
        return await task.future

    def _ready(self) -> tuple[_Batch | None, float]:
        """The oldest batch that may run now, else None and how long until one may."""
        now, wait, best = time.monotonic(), 3600.0, None
        for key, queue in list(self.queues.items()):
            if not queue:
                del self.queues[key]
                continue
            head = queue[0]
            due = head.opened + self.timeout
            if head.rows >= self.max_rows or len(queue) > 1 or now >= due:
                if best is None or head.opened < best.opened:
                    best = head
            else:
                wait = min(wait, due - now)
        if best is not None:
            self.queues[best.key].popleft()
        return best, wait

    async def _next(self) -> _Batch:
        while True:
            batch, wait = self._ready()
            if batch is not None:
                return batch
            self.wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=wait)

    def _padded(self, rows: int) -> int:
        return next((s for s in self.allowed if s >= rows), rows)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next()
            padded = self._padded(batch.rows)
            self.observe("processed_batch_size", float(padded))
            self.observe("padding_size", float(padded - batch.rows))
            try:
                joined = {
                    k: np.concatenate([t.inputs[k] for t in batch.tasks])
                    for k in batch.tasks[0].inputs
                }
                outputs = await loop.run_in_executor(
                    self.executor, batch.version.predict, batch.signature, joined
                )
            except Exception as exc:  # one status for the whole batch, as upstream
                for task in batch.tasks:
                    if not task.future.done():
                        task.future.set_exception(exc)
                continue
            start = 0
            for task in batch.tasks:
                part = {k: v[start : start + task.rows] for k, v in outputs.items()}
                start += task.rows
                if not task.future.done():
                    task.future.set_result(part)

    def close(self) -> None:
        for worker in self.workers:
            worker.cancel()
