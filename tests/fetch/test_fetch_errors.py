"""The fetch stage against a scripted server: statuses, retries, auth and secrets."""

from __future__ import annotations

import base64
import logging
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fetch_helpers import CLIENT_ID, Reply, badge

import osm_build.fetch
from osm_build.errors import AccessDeniedError, FetchError
from osm_build.fetch import (
    FetchPolicy,
    FetchReport,
    OsmRequest,
    RetryPolicy,
    fetch_answers_sync,
)

API_KEY = "klarna_test_api_Zm9vYmFyc2VjcmV0a2V5MTIzNDU2"
STRIP = OsmRequest("top-strip-promotion-badge", "en-US", None)


def build(settings, tmp_path, policy, requests=None, api_key=None, cache=True, **options):
    report = FetchReport()
    answers = fetch_answers_sync(
        requests or [badge()],
        settings,
        base_url=settings.base_url,
        cache_dir=tmp_path / "cache" if cache else None,
        api_key=api_key,
        report=report,
        policy=policy,
        **options,
    )
    return answers, report


def test_public_surface():
    assert sorted(osm_build.fetch.__all__) == [
        "FetchPolicy", "FetchReport", "OsmAnswer", "OsmRequest", "RetryPolicy",
        "fetch_answers", "fetch_answers_sync", "resolve_base_url",
    ]


def test_request_parameters_and_user_agent(server, settings, tmp_path, policy):
    answers, _ = build(settings, tmp_path, policy, requests=[badge(12000), STRIP, badge(12000)])
    assert server.count == 2
    by_placement = {received.query["placement_key"]: received for received in server.received}
    assert by_placement["credit-promotion-badge"].query == {
        "client_id": CLIENT_ID, "placement_key": "credit-promotion-badge", "locale": "en-US", "purchase_amount": "12000"
    }
    assert by_placement["top-strip-promotion-badge"].query == {
        "client_id": CLIENT_ID, "placement_key": "top-strip-promotion-badge", "locale": "en-US"
    }
    assert all(received.path == "/messaging/v3" for received in server.received)
    assert all(received.headers["user-agent"] == settings.user_agent for received in server.received)
    assert all("authorization" not in received.headers for received in server.received)
    assert set(answers) == {badge(12000), STRIP}


def test_progress_counts_every_answer(server, settings, tmp_path, policy):
    seen = []
    build(settings, tmp_path, policy, requests=[badge(1), badge(2), badge(3)], on_progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_403_stops_after_one_request(server, settings, tmp_path, policy):
    server.default = Reply(status=403, body="", headers={"klarna-correlation-id": "corr-403"})
    with pytest.raises(AccessDeniedError) as caught:
        build(settings, tmp_path, policy, requests=[badge(amount) for amount in range(100, 120)])
    message = str(caught.value.message)
    assert server.count == 1
    assert f"OSM API access is not enabled for client id {CLIENT_ID}" in message
    assert "ask your Klarna account manager" in message
    assert "no User-Agent header" in message
    assert "corr-403" in message


def test_403_later_aborts_once(server, settings, tmp_path, policy):
    server.reply(Reply())
    server.default = Reply(status=403, body="", headers={"klarna-correlation-id": "corr-late"})
    with pytest.raises(AccessDeniedError, match="corr-late"):
        build(settings, tmp_path, policy, requests=[badge(amount) for amount in range(100, 110)])
    assert server.count <= 1 + settings.concurrency


def test_401_names_env_var_not_key(server, settings, tmp_path, policy, caplog):
    v4 = settings.model_copy(update={"api_version": "v4", "client_id": "klarna_test_client_abc"})
    server.default = Reply(status=401, body="", headers={"klarna-correlation-id": "corr-401"})
    with caplog.at_level(logging.DEBUG), pytest.raises(FetchError) as caught:
        build(v4, tmp_path, policy, requests=[badge(1), badge(2)], api_key=API_KEY)
    message = str(caught.value.message)
    assert server.count == 1
    assert "HTTP 401" in message
    assert "KLARNA_API_KEY" in message
    assert "corr-401" in message
    assert API_KEY not in message
    assert API_KEY not in caplog.text


def test_v4_without_key_sends_nothing(server, settings, tmp_path, policy):
    v4 = settings.model_copy(update={"api_version": "v4", "api_key_env": "SHOP_OSM_KEY"})
    with pytest.raises(FetchError, match="SHOP_OSM_KEY is not set"):
        build(v4, tmp_path, policy)
    assert server.count == 0


def test_v4_key_stays_secret(server, settings, tmp_path, policy, caplog):
    v4 = settings.model_copy(update={"api_version": "v4", "client_id": "klarna_test_client_abc"})
    server.reply(Reply(status=500, body="first fails"))
    with caplog.at_level(logging.DEBUG):
        answers, report = build(v4, tmp_path, policy, requests=[badge(1), badge(2)], api_key=API_KEY)
    expected = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert all(received.headers["authorization"] == expected for received in server.received)
    assert all(received.path == "/messaging/v4" for received in server.received)
    assert not any(answer.failed for answer in answers.values())
    assert report.retries == 1
    encoded = base64.b64encode(f"{API_KEY}:".encode()).decode()
    assert API_KEY not in caplog.text
    assert encoded not in caplog.text
    for path in (tmp_path / "cache").iterdir():
        data = path.read_bytes()
        assert API_KEY.encode() not in data
        assert encoded.encode() not in data


def test_400_not_retried(server, settings, tmp_path, policy):
    server.default = Reply(status=400, body="x" * 1000, headers={"klarna-correlation-id": "corr-400"})
    answers, report = build(settings, tmp_path, policy)
    answer = answers[badge()]
    assert server.count == 1
    assert answer.failed
    assert answer.status == 400
    assert "HTTP 400" in answer.error
    assert "corr-400" in answer.error
    assert "/messaging/v3?client_id=" in answer.error
    assert "x" * 300 in answer.error
    assert "x" * 301 not in answer.error
    assert report.failed == 1
    assert report.retries == 0


def test_404_not_retried(server, settings, tmp_path, policy):
    server.default = Reply(status=404, body="no such placement")
    answers, _ = build(settings, tmp_path, policy)
    assert server.count == 1
    assert "no such placement" in answers[badge()].error


def test_5xx_retried_then_succeeds(server, settings, tmp_path, policy):
    server.reply(Reply(status=500, body="a"), Reply(status=502, body="b"))
    answers, report = build(settings, tmp_path, policy)
    assert server.count == 3
    assert report.retries == 2
    assert report.requests_sent == 3
    assert not answers[badge()].failed


def test_5xx_gives_up_after_max_attempts(server, settings, tmp_path, policy):
    server.default = Reply(status=503, body="down")
    answers, report = build(settings, tmp_path, policy)
    assert server.count == 4
    assert report.retries == 3
    assert report.failed == 1
    assert "after 4 attempts" in answers[badge()].error


def test_429_retry_after_seconds(server, settings, tmp_path, policy):
    server.reply(Reply(status=429, body="slow down", headers={"retry-after": "1"}))
    started = time.monotonic()
    answers, report = build(settings, tmp_path, policy)
    assert time.monotonic() - started >= 1.0
    assert report.retries == 1
    assert answers[badge()].status == 200


def test_429_retry_after_http_date(server, settings, tmp_path, policy):
    when = datetime.now(UTC) + timedelta(seconds=2)
    server.reply(Reply(status=429, body="slow down", headers={"retry-after": format_datetime(when, usegmt=True)}))
    started = time.monotonic()
    answers, report = build(settings, tmp_path, policy)
    assert time.monotonic() - started >= 0.9
    assert report.retries == 1
    assert answers[badge()].status == 200


def test_retry_after_beyond_cap_not_waited(server, settings, tmp_path, policy):
    server.reply(Reply(status=429, body="slow down", headers={"retry-after": "3600"}))
    started = time.monotonic()
    answers, report = build(settings, tmp_path, policy)
    # Far below the 3600 s asked for; the margin is for a loaded machine.
    assert time.monotonic() - started < 3
    assert answers[badge()].status == 429
    assert "requests_per_second" in answers[badge()].error
    assert report.retries == 0


def test_timeout_retried(server, settings, tmp_path, policy):
    server.reply(Reply(delay=1.0))
    answers, report = build(settings, tmp_path, policy)
    assert report.retries == 1
    assert server.count == 2
    assert not answers[badge()].failed


def test_204_and_empty_body_show_nothing(server, settings, tmp_path, policy):
    server.reply(Reply(status=204), Reply(body=b""))
    answers, report = build(settings, tmp_path, policy, requests=[badge(1), badge(2)])
    assert [answer.status for answer in answers.values()] == [204, 200]
    assert all(answer.body is None for answer in answers.values())
    assert not any(answer.failed for answer in answers.values())
    assert report.failed == 0


def test_malformed_200_fails(server, settings, tmp_path, policy):
    server.reply(Reply(body="<html>oops</html>"), Reply(body={"content": {}}))
    answers, report = build(settings, tmp_path, policy, requests=[badge(1), badge(2)])
    assert "malformed response: the body is not JSON" in answers[badge(1)].error
    assert "content.nodes is missing" in answers[badge(2)].error
    assert report.failed == 2


def test_unreachable_api_fails_each_answer(settings, tmp_path, policy):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    answers, report = build(closed, tmp_path, policy, requests=[badge(1), badge(2)])
    # Only the first request is attempted (with its retries); the second is never sent.
    assert report.requests_sent == policy.retry.max_attempts
    assert report.failed == 2
    assert all(answer.failed for answer in answers.values())
    assert "was not sent because the first request" in answers[badge(2)].error
    assert "check klarna.base_url" in answers[badge(2)].error


def test_unreachable_api_serves_stale(server, settings, tmp_path, policy):
    server.default = Reply(headers={"cache-control": "max-age=0"})
    build(settings, tmp_path, policy, requests=[badge(1), badge(2)])
    server.stop()
    answers, report = build(settings, tmp_path, policy, requests=[badge(1), badge(2)])
    assert [answer.cache_status for answer in answers.values()] == ["stale", "stale"]
    assert report.stale_served == 2
    assert "was not sent" in answers[badge(2)].error


def test_retry_policy_validates():
    with pytest.raises(ValueError, match="backoff_jitter must be between 0 and 1"):
        RetryPolicy(backoff_jitter=1.5)
    with pytest.raises(ValueError, match="must not contain"):
        RetryPolicy(retry_statuses=frozenset({403, 503}))
    with pytest.raises(ValueError, match="max_stale_seconds"):
        FetchPolicy(max_stale_seconds=-1)
