"""The I/O-free cache decisions."""

from __future__ import annotations

import pytest

from osm_build.fetch import OsmRequest
from osm_build.fetch.cache import (
    CacheEntry,
    cache_key,
    decide_lookup,
    decide_stale_fallback,
    decide_store,
    freshen,
    parse_cache_control,
)

NOW = 1_800_000_000.0
REQUEST = OsmRequest("credit-promotion-badge", "en-US", 12000)


def entry(cache_control=None, etag=None, last_modified=None, stored_at=NOW, lifetime=0.0, initial_age=0.0):
    return CacheEntry(
        key="k", url="http://127.0.0.1/messaging/v3?x", status=200, body=b"{}", cache_control=cache_control,
        etag=etag, last_modified=last_modified, correlation_id="c", stored_at=stored_at, lifetime=lifetime,
        initial_age=initial_age,
    )


def test_parse_directives():
    parsed = parse_cache_control('Private, MAX-AGE=60, s-maxage="120", no-cache, stale-if-error=30, junk=abc')
    assert parsed.private
    assert parsed.max_age == 60
    assert parsed.s_maxage == 120
    assert parsed.no_cache
    assert parsed.stale_if_error == 30
    assert not parsed.no_store
    assert parse_cache_control(None) == parse_cache_control("")


@pytest.mark.parametrize(
    ("status", "headers", "store", "lifetime", "rule"),
    [
        (200, {"cache-control": "max-age=60"}, True, 60, "max-age=60"),
        (204, {"cache-control": "max-age=60"}, True, 60, "max-age=60"),
        (200, {"cache-control": "no-store, max-age=60"}, False, 0, "not stored: no-store"),
        (200, {"cache-control": "no-cache, max-age=60"}, True, 0, "no-cache"),
        (200, {"cache-control": "private, max-age=30"}, True, 30, "private is allowed"),
        (200, {"cache-control": "s-maxage=90"}, True, 0, "s-maxage=90 ignored"),
        (200, {"cache-control": "max-age=10, s-maxage=90"}, True, 10, "s-maxage=90 ignored"),
        (200, {}, True, 0, "no heuristic freshness"),
        (
            200,
            {"expires": "Thu, 03 Dec 2026 10:05:00 GMT", "date": "Thu, 03 Dec 2026 10:00:00 GMT"},
            True, 300, "Expires minus Date",
        ),
        (200, {"expires": "0", "date": "Thu, 03 Dec 2026 10:00:00 GMT"}, True, 0, "Expires minus Date"),
        (404, {"cache-control": "max-age=60"}, False, 0, "HTTP 404"),
        (500, {"cache-control": "max-age=60"}, False, 0, "HTTP 500"),
    ],
)
def test_store_decision(status, headers, store, lifetime, rule):
    decision = decide_store(status, headers)
    assert decision.store is store
    assert decision.lifetime == lifetime
    assert rule in decision.rule


def test_lookup_without_entry_fetches():
    assert decide_lookup(None, NOW).action == "fetch"


def test_lookup_fresh_entry_is_used():
    decision = decide_lookup(entry("max-age=60", lifetime=60), NOW + 59)
    assert decision.action == "use"
    assert decision.headers == {}


def test_lookup_counts_initial_age():
    assert decide_lookup(entry("max-age=60", lifetime=60, initial_age=50), NOW + 9).action == "use"
    assert decide_lookup(entry("max-age=60", lifetime=60, initial_age=50), NOW + 11).action == "fetch"


def test_lookup_stale_with_validators_revalidates():
    decision = decide_lookup(entry("max-age=60", etag='"e"', last_modified="Tue, 01 Dec 2026 00:00:00 GMT", lifetime=60), NOW + 60)
    assert decision.action == "revalidate"
    assert decision.headers == {"If-None-Match": '"e"', "If-Modified-Since": "Tue, 01 Dec 2026 00:00:00 GMT"}


def test_lookup_stale_without_validators_fetches():
    assert decide_lookup(entry("max-age=60", lifetime=60), NOW + 61).action == "fetch"


def test_lookup_no_cache_always_revalidates():
    decision = decide_lookup(entry("no-cache", etag='"e"', lifetime=0), NOW)
    assert decision.action == "revalidate"
    assert decision.rule == "revalidate: no-cache"


def test_lookup_stale_while_revalidate_named():
    decision = decide_lookup(entry("max-age=1, stale-while-revalidate=60", etag='"e"', lifetime=1), NOW + 5)
    assert decision.action == "revalidate"
    assert "stale-while-revalidate=60" in decision.rule


@pytest.mark.parametrize(
    ("cache_control", "lifetime", "seconds_later", "max_stale", "allowed", "rule"),
    [
        ("max-age=10, stale-if-error=100", 10, 50, 0, True, "within stale-if-error=100"),
        ("max-age=10, stale-if-error=100", 10, 200, 0, False, "more than max_stale_seconds=0"),
        ("max-age=10, stale-if-error=100", 10, 200, None, True, "190 s past expiry"),
        ("max-age=10, stale-while-revalidate=100", 10, 50, 0, True, "within stale-while-revalidate=100"),
        ("max-age=10, must-revalidate", 10, 50, None, False, "must-revalidate"),
        ("no-cache", 0, 50, None, False, "no-cache"),
        (None, 0, 5000, None, True, "5000 s past expiry"),
    ],
)
def test_stale_fallback(cache_control, lifetime, seconds_later, max_stale, allowed, rule):
    decision = decide_stale_fallback(entry(cache_control, lifetime=lifetime), NOW + seconds_later, max_stale)
    assert decision.allowed is allowed
    assert rule in decision.rule


def test_freshen_takes_304_headers():
    old = entry("max-age=0", etag='"a"', lifetime=0)
    updated, decision = freshen(old, {"cache-control": "max-age=120", "etag": '"b"', "age": "20"}, NOW + 500)
    assert decision.store
    assert updated.lifetime == 120
    assert updated.etag == '"b"'
    assert updated.stored_at == NOW + 500
    assert updated.expires_at == NOW + 500 - 20 + 120
    assert updated.body == old.body


def test_freshen_keeps_stored_cache_control():
    old = entry("max-age=60", etag='"a"', lifetime=60)
    updated, _ = freshen(old, {"etag": '"a"'}, NOW + 500)
    assert updated.lifetime == 60
    assert updated.cache_control == "max-age=60"


def test_freshen_no_store_drops_entry():
    _, decision = freshen(entry("max-age=0", etag='"a"'), {"cache-control": "no-store"}, NOW)
    assert not decision.store


def test_cache_key_parts():
    base = cache_key("http://127.0.0.1:1", "v3", "id", REQUEST, None)
    assert base != cache_key("http://127.0.0.1:2", "v3", "id", REQUEST, None)
    assert base != cache_key("http://127.0.0.1:1", "v4", "id", REQUEST, None)
    assert base != cache_key("http://127.0.0.1:1", "v3", "other", REQUEST, None)
    assert base != cache_key("http://127.0.0.1:1", "v3", "id", OsmRequest("credit-promotion-badge", "en-US", 1), None)
    assert base != cache_key("http://127.0.0.1:1", "v3", "id", OsmRequest("credit-promotion-badge", "es-US", 12000), None)
    assert base != cache_key("http://127.0.0.1:1", "v3", "id", REQUEST, "secret-key")
    assert base == cache_key("http://127.0.0.1:1/", "v3", "id", REQUEST, None)
    assert "secret-key" not in cache_key("http://127.0.0.1:1", "v3", "id", REQUEST, "secret-key")
