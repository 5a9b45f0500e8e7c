"""When a failed request is sent again, and how long to wait before it.

A request is retried after a timeout, a connection error, HTTP 429 or HTTP 5xx. The wait grows
exponentially with jitter, is capped per wait and in total, and follows ``Retry-After`` when the
server sends it. A ``Retry-After`` longer than ``max_wait_seconds`` ends the retries instead of
waiting less than the server asked for. 400, 401, 403 and 404 are never retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """An immutable retry policy, validated when it is built.

    Attributes:
        max_attempts: attempts per request, the first one included (1 disables retries).
        backoff_factor: the first wait in seconds; wait n is ``backoff_factor * 2 ** (n - 1)``.
        backoff_jitter: the share of each wait that is random, between 0 and 1.
        max_wait_seconds: the maximum single wait, also the maximum ``Retry-After`` honoured.
        max_total_wait_seconds: the maximum time one request spends waiting between attempts.
        retry_statuses: HTTP statuses that are retried; 5xx statuses outside it are not.
    """

    max_attempts: int = 4
    backoff_factor: float = 0.5
    backoff_jitter: float = 0.5
    max_wait_seconds: float = 10.0
    max_total_wait_seconds: float = 30.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts!r}")
        if self.backoff_factor < 0:
            raise ValueError(f"backoff_factor must be 0 or more, got {self.backoff_factor!r}")
        if not 0 <= self.backoff_jitter <= 1:
            raise ValueError(f"backoff_jitter must be between 0 and 1, got {self.backoff_jitter!r}")
        if self.max_wait_seconds < 0:
            raise ValueError(f"max_wait_seconds must be 0 or more, got {self.max_wait_seconds!r}")
        if self.max_total_wait_seconds < 0:
            raise ValueError(f"max_total_wait_seconds must be 0 or more, got {self.max_total_wait_seconds!r}")
        never = {400, 401, 403, 404} & set(self.retry_statuses)
        if never:
            raise ValueError(f"retry_statuses must not contain {sorted(never)}, which no retry can fix")

    def is_retryable_status(self, status: int) -> bool:
        """Return whether a response with ``status`` is retried."""
        return status in self.retry_statuses

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Return the wait before retry ``retry_number`` (1 for the first retry), in seconds."""
        base = min(self.backoff_factor * 2 ** (retry_number - 1), self.max_wait_seconds)
        jitter = base * self.backoff_jitter
        return base - jitter + rng.uniform(0, jitter)

    def next_wait(
        self, retry_number: int, retry_after: float | None, waited: float, rng: random.Random
    ) -> float | None:
        """Return the wait before the next attempt, or None when no retry is left.

        Args:
            retry_number: 1 for the first retry, 2 for the second, and so on.
            retry_after: seconds from a ``Retry-After`` header, or None without one.
            waited: seconds this request has already spent waiting between attempts.
            rng: the source of jitter.
        """
        if retry_number >= self.max_attempts:
            return None
        if retry_after is not None:
            if retry_after > self.max_wait_seconds:
                return None
            wait = retry_after
        else:
            wait = self.backoff(retry_number, rng)
        if waited + wait > self.max_total_wait_seconds:
            return None
        return wait


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Parse a ``Retry-After`` value, delay-seconds or HTTP-date, into seconds from ``now``.

    Returns None for a missing or unreadable value; a date in the past gives 0.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
