"""Fixtures of the fetch tests: a scripted server, settings that point at it, a fast policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fetch_helpers import CLIENT_ID, ScriptedServer

from osm_build.config import KlarnaSettings
from osm_build.fetch import FetchPolicy, RetryPolicy


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer().start()
    yield scripted
    scripted.stop()


@pytest.fixture
def settings(server: ScriptedServer) -> KlarnaSettings:
    return KlarnaSettings(
        client_id=CLIENT_ID,
        base_url=server.url,
        connect_timeout_seconds=1,
        read_timeout_seconds=0.3,
        concurrency=4,
        requests_per_second=1000,
    )


@pytest.fixture
def policy() -> FetchPolicy:
    return FetchPolicy(retry=RetryPolicy(max_attempts=4, backoff_factor=0.01, max_wait_seconds=3, max_total_wait_seconds=5))
