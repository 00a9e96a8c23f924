"""Test-only faults for the stand-in: a share of failed predictions and a fixed delay on each.

They exist so the canary-analysis tests can start a candidate that misbehaves in a known way
(5% of requests failing, three times slower) and prove the analysis catches it through the
real Prometheus. Both are off by default, have flags that say "test", and TF Serving has no
such flags: a rendered manifest never sets them.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from serving.standin.model_manager import Unavailable


@dataclass
class Faults:
    """`failure_ratio` of predictions answer UNAVAILABLE (spread evenly, not at random, so a
    short test sees the ratio it asked for); every prediction first waits `delay_ms`."""

    failure_ratio: float = 0.0
    delay_ms: float = 0.0
    _seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_ratio <= 1.0:
            raise ValueError(f"failure ratio must be within [0, 1], got {self.failure_ratio}")
        if self.delay_ms < 0:
            raise ValueError(f"delay must be >= 0 ms, got {self.delay_ms}")

    @property
    def active(self) -> bool:
        return self.failure_ratio > 0 or self.delay_ms > 0

    async def before_predict(self) -> None:
        """Wait the delay, then fail when this request's turn comes."""
        if self.delay_ms:
            await asyncio.sleep(self.delay_ms / 1000)
        self._seen += 1
        n = self._seen
        if math.floor(n * self.failure_ratio) > math.floor((n - 1) * self.failure_ratio):
            raise Unavailable(f"test fault: request {n} fails (failure ratio {self.failure_ratio})")
