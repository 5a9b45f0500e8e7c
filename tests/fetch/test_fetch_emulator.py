"""The fetch stage against the OSM API emulator."""

from __future__ import annotations

import time

import pytest

from osm_build.config import KlarnaSettings
from osm_build.emulator.server import start_emulator
from osm_build.emulator.settings import DEFAULT_CLIENT_IDS, EmulatorSettings
from osm_build.errors import AccessDeniedError
from osm_build.fetch import (
    FetchPolicy,
    FetchReport,
    OsmRequest,
    RetryPolicy,
    fetch_answers_sync,
)

REQUESTS = [OsmRequest("credit-promotion-badge", locale, amount) for locale in ("en-US", "es-US") for amount in range(5000, 5020)]


def klarna(emulator, **options) -> KlarnaSettings:
    values = {"client_id": DEFAULT_CLIENT_IDS[0], "concurrency": 8, "requests_per_second": 10_000}
    values.update(options)
    return KlarnaSettings(environment="emulator", **values)


def run(emulator, settings, cache_dir, requests=REQUESTS, policy=None):
    report = FetchReport()
    answers = fetch_answers_sync(
        requests, settings, base_url=emulator.base_url, cache_dir=cache_dir, api_key=None, report=report, policy=policy
    )
    return answers, report


def test_emulator_answers_then_cache_hits(tmp_path):
    with start_emulator(EmulatorSettings(max_age_seconds=600, seed=1)) as emulator:
        first, first_report = run(emulator, klarna(emulator), tmp_path)
        second, second_report = run(emulator, klarna(emulator), tmp_path)
        stats = emulator.stats()
    assert stats["requests"] == len(REQUESTS)
    assert first_report.requests_sent == len(REQUESTS)
    assert not any(answer.failed for answer in first.values())
    assert all(answer.body is not None for answer in first.values())
    assert second_report.cache_hits == len(REQUESTS)
    assert {answer.cache_status for answer in second.values()} == {"hit"}


def test_emulator_no_cache_revalidates(tmp_path):
    with start_emulator(EmulatorSettings(cache_control="no-cache", seed=1)) as emulator:
        run(emulator, klarna(emulator), tmp_path)
        second, report = run(emulator, klarna(emulator), tmp_path)
        stats = emulator.stats()
    assert report.revalidated == len(REQUESTS)
    assert stats["by_status"]["304"] == len(REQUESTS)
    assert {answer.cache_status for answer in second.values()} == {"revalidated"}
    assert all(answer.status == 200 and answer.body is not None for answer in second.values())


def test_emulator_faults_are_retried(tmp_path):
    policy = FetchPolicy(retry=RetryPolicy(max_attempts=8, backoff_factor=0.01, max_wait_seconds=1))
    with start_emulator(EmulatorSettings(fail_rate=0.3, throttle_rate=0.1, retry_after="0", seed=7)) as emulator:
        answers, report = run(emulator, klarna(emulator), None, policy=policy)
        stats = emulator.stats()
    assert report.retries > 0
    assert report.requests_sent == stats["requests"]
    assert report.retries == stats["requests"] - len(REQUESTS)
    assert not any(answer.failed for answer in answers.values())


def test_emulator_unknown_client_403(tmp_path):
    with start_emulator(EmulatorSettings(seed=1)) as emulator:
        with pytest.raises(AccessDeniedError, match="not enabled for client id 00000000"):
            run(emulator, klarna(emulator, client_id="00000000-0000-4000-8000-000000000000"), tmp_path)
        stats = emulator.stats()
    assert stats["requests"] == 1
