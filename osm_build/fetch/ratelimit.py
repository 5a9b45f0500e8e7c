"""A token bucket in requests per second and a bound on requests in flight.

Both apply to each attempt on the network, so a request that waits for a retry uses neither a
token nor a concurrency slot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class TokenBucket:
    """A token bucket for one event loop: ``rate`` tokens per second, at most ``burst`` saved.

    A caller that finds no token reserves the next one and sleeps until it is due, so waiting
    callers are served in arrival order without a lock.
    """

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be more than 0 requests per second, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._updated = time.monotonic()

    def reserve(self) -> float:
        """Take one token and return how many seconds the caller must wait before using it."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate

    async def acquire(self) -> None:
        """Wait until one token is available and take it."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


class RequestGate:
    """The rate limit and the concurrency bound that every network attempt passes."""

    def __init__(self, requests_per_second: float, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
        # A burst of one slot per connection lets a fan-out start at full concurrency.
        self.bucket = TokenBucket(requests_per_second, burst=max(1.0, min(float(concurrency), requests_per_second)))
        self.semaphore = asyncio.Semaphore(concurrency)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one concurrency slot, after waiting for a rate-limit token, for one attempt."""
        async with self.semaphore:
            await self.bucket.acquire()
            yield
