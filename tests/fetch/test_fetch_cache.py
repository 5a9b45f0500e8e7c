"""The fetch stage against a scripted server: Cache-Control handling across builds."""

from __future__ import annotations

import logging
import sqlite3

from fetch_helpers import OK_BODY, Reply, badge

from osm_build.fetch import FetchReport, fetch_answers_sync


def build(settings, tmp_path, policy, requests=None, cache=True):
    report = FetchReport()
    answers = fetch_answers_sync(
        requests or [badge()],
        settings,
        base_url=settings.base_url,
        cache_dir=tmp_path / "cache" if cache else None,
        api_key=None,
        report=report,
        policy=policy,
    )
    return answers, report


def test_fresh_entry_sends_nothing_next_build(server, settings, tmp_path, policy):
    server.default = Reply(headers={"cache-control": "max-age=300"})
    first, first_report = build(settings, tmp_path, policy)
    second, second_report = build(settings, tmp_path, policy)
    assert server.count == 1
    assert first[badge()].cache_status == "miss"
    assert first_report.requests_sent == 1
    answer = second[badge()]
    assert answer.cache_status == "hit"
    assert answer.body == OK_BODY
    assert answer.status == 200
    assert second_report.requests_sent == 0
    assert second_report.cache_hits == 1
    assert answer.expires_at is not None
    assert round((answer.expires_at - answer.fetched_at).total_seconds()) == 300


def test_no_store_is_not_stored(server, settings, tmp_path, policy, caplog):
    server.default = Reply(headers={"cache-control": "no-store, max-age=300"})
    with caplog.at_level(logging.DEBUG, logger="osm_build.fetch"):
        build(settings, tmp_path, policy)
    assert "not stored: no-store" in caplog.text
    answers, _ = build(settings, tmp_path, policy)
    assert server.count == 2
    assert answers[badge()].cache_status == "miss"
    assert answers[badge()].expires_at is None
    rows = sqlite3.connect(tmp_path / "cache" / "osm-answers.sqlite3").execute("SELECT COUNT(*) FROM answers")
    assert rows.fetchone()[0] == 0


def test_no_cache_revalidates_with_etag(server, settings, tmp_path, policy):
    server.reply(
        Reply(headers={"cache-control": "no-cache, max-age=300", "etag": '"v1"'}),
        Reply(status=304, headers={"etag": '"v1"', "klarna-correlation-id": "c-304"}),
    )
    build(settings, tmp_path, policy)
    answers, report = build(settings, tmp_path, policy)
    assert server.count == 2
    assert server.received[1].headers["if-none-match"] == '"v1"'
    answer = answers[badge()]
    assert answer.cache_status == "revalidated"
    assert answer.status == 200
    assert answer.body == OK_BODY
    assert answer.correlation_id == "c-304"
    assert report.revalidated == 1
    assert report.requests_sent == 1


def test_expired_entry_revalidates_with_last_modified(server, settings, tmp_path, policy):
    modified = "Wed, 02 Dec 2026 10:00:00 GMT"
    server.reply(
        Reply(headers={"cache-control": "max-age=0", "last-modified": modified}),
        Reply(status=304, headers={"cache-control": "max-age=120"}),
    )
    build(settings, tmp_path, policy)
    answers, _ = build(settings, tmp_path, policy)
    third, _ = build(settings, tmp_path, policy)
    assert server.received[1].headers["if-modified-since"] == modified
    assert answers[badge()].cache_status == "revalidated"
    assert answers[badge()].expires_at is not None
    assert third[badge()].cache_status == "hit"
    assert server.count == 2


def test_s_maxage_alone_gives_no_freshness(server, settings, tmp_path, policy):
    server.default = Reply(headers={"cache-control": "s-maxage=300"})
    build(settings, tmp_path, policy)
    answers, _ = build(settings, tmp_path, policy)
    assert server.count == 2
    assert answers[badge()].cache_status == "miss"
    assert answers[badge()].expires_at is None


def test_private_max_age_is_cached(server, settings, tmp_path, policy):
    server.default = Reply(headers={"cache-control": "private, max-age=300"})
    build(settings, tmp_path, policy)
    answers, _ = build(settings, tmp_path, policy)
    assert server.count == 1
    assert answers[badge()].cache_status == "hit"


def test_missing_header_kept_for_fallback(server, settings, tmp_path, policy):
    server.reply(Reply(headers={}))
    build(settings, tmp_path, policy)
    server.default = Reply(status=500, body="boom")
    answers, report = build(settings, tmp_path, policy)
    answer = answers[badge()]
    assert server.received[1].headers.get("if-none-match") is None
    assert answer.cache_status == "stale"
    assert answer.body == OK_BODY
    assert answer.failed
    assert "HTTP 500" in answer.error
    assert report.stale_served == 1
    assert report.failed == 0


def test_stale_if_error_serves_stale(server, settings, tmp_path, policy):
    server.reply(Reply(headers={"cache-control": "max-age=0, stale-if-error=600"}))
    build(settings, tmp_path, policy)
    server.default = Reply(status=503, body="down")
    answers, report = build(settings, tmp_path, policy)
    answer = answers[badge()]
    assert answer.cache_status == "stale"
    assert "stale-if-error=600" in answer.error
    assert report.stale_served == 1
    assert report.retries == 3


def test_stale_beyond_max_stale_fails(server, settings, tmp_path):
    from osm_build.fetch import FetchPolicy, RetryPolicy

    strict = FetchPolicy(retry=RetryPolicy(max_attempts=1), max_stale_seconds=0)
    server.reply(Reply(headers={"cache-control": "max-age=0"}))
    build(settings, tmp_path, strict)
    server.default = Reply(status=503, body="down")
    import time

    time.sleep(1.1)
    answers, report = build(settings, tmp_path, strict)
    assert answers[badge()].cache_status == "miss"
    assert answers[badge()].status == 503
    assert report.failed == 1
    assert report.stale_served == 0


def test_must_revalidate_not_served_stale(server, settings, tmp_path, policy):
    server.reply(Reply(headers={"cache-control": "max-age=0, must-revalidate", "etag": '"a"'}))
    build(settings, tmp_path, policy)
    server.default = Reply(status=500, body="boom")
    answers, report = build(settings, tmp_path, policy)
    assert answers[badge()].failed
    assert answers[badge()].cache_status == "miss"
    assert report.failed == 1


def test_stale_while_revalidate_revalidates_in_foreground(server, settings, tmp_path, policy):
    server.reply(
        Reply(headers={"cache-control": "max-age=0, stale-while-revalidate=600", "etag": '"s"'}),
        Reply(status=304, headers={"etag": '"s"'}),
    )
    build(settings, tmp_path, policy)
    answers, _ = build(settings, tmp_path, policy)
    assert answers[badge()].cache_status == "revalidated"
    assert server.count == 2


def test_new_body_replaces_entry(server, settings, tmp_path, policy):
    changed = {"content": {"nodes": []}, "impression_url": "https://evt.test/2"}
    server.reply(
        Reply(headers={"cache-control": "max-age=0", "etag": '"1"'}),
        Reply(body=changed, headers={"cache-control": "max-age=300", "etag": '"2"'}),
    )
    build(settings, tmp_path, policy)
    second, _ = build(settings, tmp_path, policy)
    third, _ = build(settings, tmp_path, policy)
    assert second[badge()].cache_status == "miss"
    assert third[badge()].cache_status == "hit"
    assert third[badge()].body == changed


def test_no_cache_dir_sends_every_build(server, settings, tmp_path, policy):
    build(settings, tmp_path, policy, cache=False)
    answers, _ = build(settings, tmp_path, policy, cache=False)
    assert server.count == 2
    assert answers[badge()].expires_at is not None
    assert not (tmp_path / "cache").exists()


def test_cache_key_includes_amount_and_locale(server, settings, tmp_path, policy):
    build(settings, tmp_path, policy, requests=[badge(100), badge(100, "es-US")])
    answers, report = build(settings, tmp_path, policy, requests=[badge(100), badge(200), badge(100, "es-US")])
    assert report.cache_hits == 2
    assert answers[badge(200)].cache_status == "miss"
    assert server.count == 3
