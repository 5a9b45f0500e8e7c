"""HTTP cache decisions for OSM API responses, free of I/O.

osm-build's cache is a private cache (RFC 9111): it serves one store's own build, and v4 requests
carry ``Authorization``. The rules, each logged at DEBUG by the caller with the text of its rule:

- Only 200 and 204 responses with a usable body are stored; ``no-store`` is never stored.
- Freshness comes from ``max-age``, else from ``Expires`` minus ``Date``. ``s-maxage`` is for
  shared caches, so this private cache ignores it. ``private`` is allowed. There is no heuristic
  freshness: a response without explicit freshness is stored as already stale, so that it can be
  revalidated and replace a failed request's response.
- ``no-cache`` responses are stored and revalidated before every use.
- A stale entry with an ``ETag`` or ``Last-Modified`` is revalidated with ``If-None-Match`` /
  ``If-Modified-Since``; one without validators is fetched again.
- ``stale-while-revalidate``: a build waits for its responses anyway, so revalidation happens in
  the foreground. The window then allows serving the stale entry if revalidation fails.
- ``stale-if-error``: a failed request may be served the stale entry within the window.
  Beyond it (and beyond ``stale-while-revalidate``) the fetch policy's ``max_stale_seconds``
  decides. ``no-cache`` and ``must-revalidate`` entries are never served stale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Literal

from osm_build.fetch.models import OsmRequest

STORABLE_STATUSES = frozenset({200, 204})


@dataclass(frozen=True)
class CacheDirectives:
    """The Cache-Control response directives that this cache acts on."""

    max_age: int | None = None
    s_maxage: int | None = None
    no_store: bool = False
    no_cache: bool = False
    private: bool = False
    must_revalidate: bool = False
    stale_while_revalidate: int | None = None
    stale_if_error: int | None = None


def parse_cache_control(value: str | None) -> CacheDirectives:
    """Parse a Cache-Control header; unknown directives and unreadable numbers are ignored."""
    if not value:
        return CacheDirectives()
    numbers: dict[str, int] = {}
    flags: set[str] = set()
    for part in value.split(","):
        name, _, argument = part.strip().partition("=")
        name = name.strip().lower()
        argument = argument.strip().strip('"')
        if not name:
            continue
        if argument.isdigit():
            numbers.setdefault(name, int(argument))
        else:
            # no-cache="field" and private="field" restrict fields; this cache treats them as
            # the unqualified directive, the stricter reading.
            flags.add(name)
    return CacheDirectives(
        max_age=numbers.get("max-age"),
        s_maxage=numbers.get("s-maxage"),
        no_store="no-store" in flags,
        no_cache="no-cache" in flags,
        private="private" in flags,
        must_revalidate="must-revalidate" in flags,
        stale_while_revalidate=numbers.get("stale-while-revalidate"),
        stale_if_error=numbers.get("stale-if-error"),
    )


@dataclass(frozen=True)
class CacheEntry:
    """One stored response.

    Attributes:
        key: the cache key from ``cache_key``.
        url: the request URL, which contains no credential.
        status: 200 or 204.
        body: the response body as received.
        stored_at: Unix time when the response, or the 304 that last revalidated it, arrived.
        lifetime: freshness lifetime in seconds; 0 means stale from the start.
        initial_age: the response's ``Age`` header when it arrived, in seconds.
    """

    key: str
    url: str
    status: int
    body: bytes
    cache_control: str | None
    etag: str | None
    last_modified: str | None
    correlation_id: str | None
    stored_at: float
    lifetime: float
    initial_age: float = 0.0

    @property
    def directives(self) -> CacheDirectives:
        return parse_cache_control(self.cache_control)

    @property
    def expires_at(self) -> float:
        """Unix time when the entry becomes stale."""
        return self.stored_at - self.initial_age + self.lifetime

    def age(self, now: float) -> float:
        """Return the entry's current age in seconds."""
        return max(0.0, now - self.stored_at) + self.initial_age

    def staleness(self, now: float) -> float:
        """Return how many seconds the entry is past its expiry, 0 while fresh."""
        return max(0.0, self.age(now) - self.lifetime)

    def conditional_headers(self) -> dict[str, str]:
        """Return the validator headers of a revalidation request, empty without validators."""
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


@dataclass(frozen=True)
class StoreDecision:
    """Decision whether a response is stored, with its freshness lifetime in seconds, and the rule applied."""

    store: bool
    lifetime: float
    rule: str


@dataclass(frozen=True)
class LookupDecision:
    """Decision to use, revalidate or bypass a stored entry, with the conditional headers and the rule applied."""

    action: Literal["use", "revalidate", "fetch"]
    rule: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class FallbackDecision:
    """Decision whether a stale entry may replace a failed request's response, and the rule applied."""

    allowed: bool
    rule: str


def cache_key(base_url: str, api_version: str, client_id: str, request: OsmRequest, api_key: str | None) -> str:
    """Return the cache key of a request: a SHA-256 over everything that shapes the response.

    The API key enters only as its own SHA-256, so responses fetched with one key are not reused
    with another and the key itself is never stored.
    """
    key_digest = hashlib.sha256(api_key.encode()).hexdigest() if api_key else "-"
    amount = "-" if request.purchase_amount is None else str(request.purchase_amount)
    parts = [
        base_url.rstrip("/"), api_version, client_id, request.placement_key, request.locale, amount, key_digest
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def decide_store(status: int, headers: Mapping[str, str]) -> StoreDecision:
    """Decide whether a response is stored and for how long it is fresh.

    Args:
        status: the response's HTTP status.
        headers: its response headers, looked up by lower-case name (``httpx.Headers`` works).
    """
    directives = parse_cache_control(headers.get("cache-control"))
    if status not in STORABLE_STATUSES:
        return StoreDecision(False, 0, f"not stored: HTTP {status} responses are not cached")
    if directives.no_store:
        return StoreDecision(False, 0, "not stored: no-store")
    notes = []
    if directives.private:
        notes.append("private is allowed in this private cache")
    if directives.s_maxage is not None:
        notes.append(f"s-maxage={directives.s_maxage} ignored because it applies to shared caches only")
    suffix = f" ({'; '.join(notes)})" if notes else ""
    if directives.no_cache:
        return StoreDecision(True, 0, f"stored, revalidated before every use: no-cache{suffix}")
    if directives.max_age is not None:
        return StoreDecision(True, directives.max_age, f"stored, fresh for max-age={directives.max_age} s{suffix}")
    expires_lifetime = _expires_lifetime(headers)
    if expires_lifetime is not None:
        return StoreDecision(True, expires_lifetime, f"stored, fresh for {expires_lifetime:.0f} s: Expires minus Date{suffix}")
    return StoreDecision(
        True, 0, f"stored as stale: no max-age or Expires and no heuristic freshness, kept for revalidation and fallback{suffix}"
    )


def decide_lookup(entry: CacheEntry | None, now: float) -> LookupDecision:
    """Decide whether a stored entry is used, revalidated or bypassed for a request."""
    if entry is None:
        return LookupDecision("fetch", "miss: no stored response", {})
    directives = entry.directives
    age = entry.age(now)
    validators = entry.conditional_headers()
    if directives.no_cache:
        if validators:
            return LookupDecision("revalidate", "revalidate: no-cache", validators)
        return LookupDecision("fetch", "fetch again: no-cache without ETag or Last-Modified", {})
    if age < entry.lifetime:
        return LookupDecision("use", f"hit: fresh, age {age:.0f} s of {entry.lifetime:.0f} s", {})
    swr = ""
    if directives.stale_while_revalidate is not None and entry.staleness(now) <= directives.stale_while_revalidate:
        swr = f" (stale-while-revalidate={directives.stale_while_revalidate}: revalidated in the foreground)"
    if validators:
        return LookupDecision("revalidate", f"revalidate: stale, age {age:.0f} s of {entry.lifetime:.0f} s{swr}", validators)
    return LookupDecision("fetch", f"fetch again: stale without ETag or Last-Modified{swr}", {})


def decide_stale_fallback(entry: CacheEntry, now: float, max_stale_seconds: float | None) -> FallbackDecision:
    """Decide whether a stored entry may replace the response of a request that failed."""
    directives = entry.directives
    if directives.no_cache:
        return FallbackDecision(False, "no stale fallback: no-cache forbids use without revalidation")
    if directives.must_revalidate:
        return FallbackDecision(False, "no stale fallback: must-revalidate")
    staleness = entry.staleness(now)
    if directives.stale_if_error is not None and staleness <= directives.stale_if_error:
        return FallbackDecision(True, f"stale fallback within stale-if-error={directives.stale_if_error}")
    if directives.stale_while_revalidate is not None and staleness <= directives.stale_while_revalidate:
        return FallbackDecision(True, f"stale fallback within stale-while-revalidate={directives.stale_while_revalidate}")
    if max_stale_seconds is None or staleness <= max_stale_seconds:
        return FallbackDecision(True, f"stale fallback: {staleness:.0f} s past expiry")
    return FallbackDecision(
        False, f"no stale fallback: {staleness:.0f} s past expiry is more than max_stale_seconds={max_stale_seconds:g}"
    )


def new_entry(key: str, url: str, status: int, body: bytes, headers: Mapping[str, str], now: float, lifetime: float) -> CacheEntry:
    """Build the entry for a 200 or 204 response that ``decide_store`` allowed."""
    return CacheEntry(
        key=key,
        url=url,
        status=status,
        body=body,
        cache_control=headers.get("cache-control"),
        etag=headers.get("etag"),
        last_modified=headers.get("last-modified"),
        correlation_id=headers.get("klarna-correlation-id"),
        stored_at=now,
        lifetime=lifetime,
        initial_age=_age_header(headers),
    )


def freshen(entry: CacheEntry, headers: Mapping[str, str], now: float) -> tuple[CacheEntry, StoreDecision]:
    """Update an entry with the headers of a 304 response (RFC 9111 section 4.3.4)."""
    updated = replace(
        entry,
        cache_control=headers.get("cache-control", entry.cache_control),
        etag=headers.get("etag", entry.etag),
        last_modified=headers.get("last-modified", entry.last_modified),
        correlation_id=headers.get("klarna-correlation-id", entry.correlation_id),
        stored_at=now,
        initial_age=_age_header(headers),
    )
    merged = {"cache-control": updated.cache_control or ""}
    for name in ("expires", "date"):
        if headers.get(name):
            merged[name] = headers[name]
    decision = decide_store(entry.status, merged)
    return replace(updated, lifetime=decision.lifetime), decision


def _expires_lifetime(headers: Mapping[str, str]) -> float | None:
    expires = headers.get("expires")
    if expires is None:
        return None
    date = headers.get("date")
    try:
        expires_at = parsedate_to_datetime(expires)
        date_at = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        # RFC 9111 section 5.3: an invalid Expires means "already expired".
        return 0.0
    if date_at is None:
        return None
    return max(0.0, (expires_at - date_at).total_seconds())


def _age_header(headers: Mapping[str, str]) -> float:
    value = (headers.get("age") or "").strip()
    return float(value) if value.isdigit() else 0.0
