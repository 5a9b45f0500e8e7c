"""Retry timing, Retry-After parsing, the token bucket and base URL resolution."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from osm_build.config import KlarnaSettings
from osm_build.errors import FetchError
from osm_build.fetch import RetryPolicy, resolve_base_url
from osm_build.fetch.ratelimit import RequestGate, TokenBucket
from osm_build.fetch.retry import parse_retry_after

NOW = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


def test_retry_after_forms():
    assert parse_retry_after("7", NOW) == 7
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=30), usegmt=True), NOW) == 30
    assert parse_retry_after(format_datetime(NOW - timedelta(seconds=30), usegmt=True), NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(backoff_factor=1, backoff_jitter=0, max_wait_seconds=5, max_attempts=10, max_total_wait_seconds=100)
    rng = random.Random(1)
    assert [policy.backoff(n, rng) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_backoff_jitter_range():
    policy = RetryPolicy(backoff_factor=1, backoff_jitter=0.5)
    rng = random.Random(3)
    waits = [policy.backoff(2, rng) for _ in range(200)]
    assert min(waits) >= 1.0
    assert max(waits) <= 2.0
    assert len(set(waits)) > 100


def test_next_wait_limits():
    policy = RetryPolicy(max_attempts=3, backoff_factor=1, backoff_jitter=0, max_wait_seconds=10, max_total_wait_seconds=4)
    rng = random.Random(0)
    assert policy.next_wait(1, None, 0, rng) == 1
    assert policy.next_wait(3, None, 0, rng) is None
    assert policy.next_wait(2, None, 3, rng) is None
    assert policy.next_wait(1, 2.5, 0, rng) == 2.5
    assert policy.next_wait(1, 11, 0, rng) is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"backoff_factor": -1}, "backoff_factor must be 0 or more"),
        ({"backoff_jitter": -0.1}, "backoff_jitter must be between 0 and 1"),
        ({"max_wait_seconds": -1}, "max_wait_seconds must be 0 or more"),
        ({"max_total_wait_seconds": -1}, "max_total_wait_seconds must be 0 or more"),
    ],
)
def test_retry_policy_rejects(options, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**options)


def test_token_bucket_rate():
    async def take(count: int) -> float:
        bucket = TokenBucket(rate=50, burst=1)
        started = time.monotonic()
        for _ in range(count):
            await bucket.acquire()
        return time.monotonic() - started

    elapsed = asyncio.run(take(26))
    # The lower bound is the limit; the upper bound only catches a bucket that never refills.
    assert 0.45 <= elapsed < 3.0


def test_gate_bounds_concurrency():
    async def run() -> int:
        gate = RequestGate(requests_per_second=10_000, concurrency=3)
        active = 0
        peak = 0

        async def work() -> None:
            nonlocal active, peak
            async with gate.slot():
                active += 1
                peak = max(peak, active)
                await asyncio.sleep(0.01)
                active -= 1

        await asyncio.gather(*(work() for _ in range(20)))
        return peak

    assert asyncio.run(run()) == 3


@pytest.mark.parametrize(
    ("environment", "region", "expected"),
    [
        ("playground", "eu", "https://api.playground.klarna.com"),
        ("playground", "na", "https://api-na.playground.klarna.com"),
        ("playground", "oc", "https://api-oc.playground.klarna.com"),
        ("production", "eu", "https://api.klarna.com"),
        ("production", "na", "https://api-na.klarna.com"),
        ("production", "oc", "https://api-oc.klarna.com"),
    ],
)
def test_base_url_table(environment, region, expected):
    settings = KlarnaSettings(client_id="id", environment=environment, region=region)
    assert resolve_base_url(settings, emulator_url="http://127.0.0.1:9") == expected


def test_base_url_override_and_emulator():
    override = KlarnaSettings(client_id="id", environment="production", base_url="http://127.0.0.1:8080/")
    assert resolve_base_url(override) == "http://127.0.0.1:8080"
    emulated = KlarnaSettings(client_id="id", environment="emulator")
    assert resolve_base_url(emulated, emulator_url="http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    with pytest.raises(FetchError, match="klarna.base_url"):
        resolve_base_url(emulated)
