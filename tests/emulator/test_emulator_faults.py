"""Fault injection, impressions and the stats counters of the emulator, over real HTTP."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from emulator_helpers import USER_AGENT, client_for, query

REQUEST_COUNT = 40


def statuses(emulator, count: int = REQUEST_COUNT) -> list[int]:
    """Send ``count`` valid requests and return their status codes."""
    with client_for(emulator) as client:
        return [client.get("/messaging/v3", params=query()).status_code for _ in range(count)]


def is_documented_shape(response: httpx.Response) -> bool:
    """Tell whether a 200 body is the documented JSON with at least one named node."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
        return False
    nodes = body["content"].get("nodes")
    if not isinstance(nodes, list) or not nodes:
        return False
    return all(isinstance(node, dict) and "name" in node for node in nodes) and isinstance(
        body.get("impression_url"), str
    )


def test_fail_rate_by_status(emulator_factory):
    emulator = emulator_factory(fail_rate=0.5, seed=7)
    codes = statuses(emulator)
    stats = emulator.stats()
    failures = sum(1 for code in codes if code in (500, 503))
    assert set(codes) <= {200, 500, 503}
    assert 0 < failures < REQUEST_COUNT
    assert stats["by_status"].get("500", 0) + stats["by_status"].get("503", 0) == failures
    assert stats["by_status"]["200"] == REQUEST_COUNT - failures
    assert stats["faults"] == {"fail": failures}


def test_fail_error_body(emulator_factory):
    emulator = emulator_factory(fail_rate=1, seed=1)
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query())
    assert response.status_code in (500, 503)
    assert response.json()["error_code"] in ("INTERNAL_ERROR", "TIMEOUT")
    assert response.json()["correlation_id"] == response.headers["klarna-correlation-id"]


def test_seed_reproducible(emulator_factory):
    first = emulator_factory(fail_rate=0.3, throttle_rate=0.3, empty_rate=0.2, seed=42)
    second = emulator_factory(fail_rate=0.3, throttle_rate=0.3, empty_rate=0.2, seed=42)
    first_codes = statuses(first, 30)
    assert first_codes == statuses(second, 30)
    with client_for(first) as client:
        assert client.post("/__emulator/reset").status_code == 204
    assert statuses(first, 30) == first_codes


def test_throttle_retry_after(emulator_factory):
    seconds = emulator_factory(throttle_rate=1, seed=3)
    http_date = emulator_factory(throttle_rate=1, retry_after="Wed, 21 Oct 2037 07:28:00 GMT")
    with client_for(seconds) as client:
        response = client.get("/messaging/v3", params=query())
    with client_for(http_date) as client:
        dated = client.get("/messaging/v3", params=query())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error_code"] == "TOO_MANY_REQUESTS"
    assert dated.headers["retry-after"] == "Wed, 21 Oct 2037 07:28:00 GMT"


def test_throttle_rate_by_status(emulator_factory):
    emulator = emulator_factory(throttle_rate=0.25, seed=11)
    codes = statuses(emulator)
    throttled = codes.count(429)
    assert 0 < throttled < REQUEST_COUNT
    assert emulator.stats()["by_status"] == {"200": REQUEST_COUNT - throttled, "429": throttled}


def test_timeout_hangs(emulator_factory):
    emulator = emulator_factory(timeout_rate=1, seed=5)
    started = time.monotonic()
    with client_for(emulator, timeout=0.5) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/messaging/v3", params=query())
    assert time.monotonic() - started >= 0.5
    stats = emulator.stats()
    assert stats["by_status"] == {"timeout": 1}
    assert stats["faults"] == {"timeout": 1}
    assert stats["requests_log"][0]["status"] == "timeout"


def test_timeout_ends_after_hang_seconds(emulator_factory):
    emulator = emulator_factory(timeout_rate=1, hang_seconds=0.3)
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query())
    assert response.status_code == 504


def test_stop_with_hanging_request(emulator_factory):
    emulator = emulator_factory(timeout_rate=1)
    with client_for(emulator, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/messaging/v3", params=query())
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 5


def test_malformed_bodies(emulator_factory):
    emulator = emulator_factory(malformed_rate=1, seed=2)
    with client_for(emulator) as client:
        responses = [client.get("/messaging/v3", params=query()) for _ in range(20)]
    assert all(response.status_code == 200 for response in responses)
    assert not any(is_documented_shape(response) for response in responses)
    assert len({response.content for response in responses}) > 1
    assert emulator.stats()["faults"] == {"malformed": 20}


def test_empty_responses(emulator_factory):
    emulator = emulator_factory(empty_rate=1, seed=4)
    with client_for(emulator) as client:
        responses = [client.get("/messaging/v3", params=query()) for _ in range(20)]
    codes = {response.status_code for response in responses}
    assert codes == {200, 204}
    for response in responses:
        if response.status_code == 200:
            assert response.json()["content"]["nodes"] == []
    by_status = emulator.stats()["by_status"]
    assert by_status["200"] + by_status["204"] == 20


def test_faults_skip_invalid_requests(emulator_factory):
    emulator = emulator_factory(fail_rate=1)
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query(locale="xx-XX"))
    assert response.status_code == 400


def test_latency_applied(emulator_factory):
    emulator = emulator_factory(latency_ms=200)
    with client_for(emulator) as client:
        started = time.monotonic()
        ok = client.get("/messaging/v3", params=query())
        error = client.get("/messaging/v3", params=query(locale="xx-XX"))
        elapsed = time.monotonic() - started
    assert ok.status_code == 200
    assert error.status_code == 400
    assert elapsed >= 0.4


def test_impression_counted(emulator):
    with client_for(emulator) as client:
        impression_url = client.get("/messaging/v3", params=query()).json()["impression_url"]
        plain = client.get(impression_url)
        image = client.get(impression_url, headers={"Accept": "image/avif,image/webp,*/*"})
        head = client.head(impression_url)
    assert plain.status_code == 204
    assert plain.headers["access-control-allow-origin"] == "*"
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/gif"
    assert image.content.startswith(b"GIF89a")
    assert head.status_code == 204
    stats = emulator.stats()
    assert stats["impressions"] == 3
    assert stats["requests"] == 1
    path_and_query = impression_url.removeprefix(emulator.base_url)
    entry = stats["impressions_log"][0]
    assert entry["url"] == path_and_query
    assert entry["user_agent"] == USER_AGENT
    assert abs(entry["time"] - time.time()) < 60


def test_stats_and_reset(emulator):
    with client_for(emulator) as client:
        client.get("/messaging/v3", params=query())
        client.get(
            "/messaging/v3",
            params=query(placement_key="top-strip-promotion-badge", purchase_amount=None),
        )
        client.get("/messaging/v3", params=query(purchase_amount="abc"))
        client.get("/__emulator/badge.svg")
        served = client.get("/__emulator/stats").json()
        in_process = emulator.stats()
        reset = client.post("/__emulator/reset")
        after = client.get("/__emulator/stats").json()
    assert served["requests"] == 3
    assert served["by_status"] == {"200": 2, "400": 1}
    assert served["requests_log"] == [
        {
            "placement_key": "credit-promotion-badge",
            "locale": "en-US",
            "purchase_amount": 12000,
            "status": "200",
            "fault": None,
        },
        {
            "placement_key": "top-strip-promotion-badge",
            "locale": "en-US",
            "purchase_amount": None,
            "status": "200",
            "fault": None,
        },
        {
            "placement_key": "credit-promotion-badge",
            "locale": "en-US",
            "purchase_amount": "abc",
            "status": "400",
            "fault": None,
        },
    ]
    assert in_process == served
    assert reset.status_code == 204
    assert after == {
        "requests": 0,
        "impressions": 0,
        "by_status": {},
        "faults": {},
        "requests_log": [],
        "impressions_log": [],
    }


def test_running_emulator_reset(emulator):
    with client_for(emulator) as client:
        client.get("/messaging/v3", params=query())
    emulator.reset()
    assert emulator.stats()["requests"] == 0
