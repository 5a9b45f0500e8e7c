"""The fetch stage: every distinct OSM request resolved once, from the cache or the network.

Layers, outermost first:

1. cache: a fresh entry is used without any request, so a hit neither waits for a rate-limit
   token nor retries. A stale entry turns the request into a revalidation, and a failed request
   may get a stale entry (``osm_build.fetch.cache`` has the rules);
2. retry: timeouts, connection errors, 429 and 5xx are sent again (``osm_build.fetch.retry``);
3. rate limit and concurrency: a token bucket and a semaphore around each attempt;
4. the network: one pooled ``httpx.AsyncClient``.

One request goes out alone first. If its response is 403 or 401 the stage stops after that one
request, because every other request would get the same response.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from osm_build.config import KlarnaSettings
from osm_build.errors import AccessDeniedError, FetchError
from osm_build.fetch import cache as rules
from osm_build.fetch.cache import CacheEntry, LookupDecision
from osm_build.fetch.cache_store import CacheStore
from osm_build.fetch.client import Exchange, OsmClient
from osm_build.fetch.models import FetchPolicy, FetchReport, OsmAnswer, OsmRequest
from osm_build.fetch.urls import request_url

logger = logging.getLogger(__name__)

ERROR_BODY_LIMIT = 300


@dataclass
class _Pending:
    request: OsmRequest
    key: str
    url: str
    entry: CacheEntry | None
    decision: LookupDecision


async def fetch_answers(
    requests: Iterable[OsmRequest],
    settings: KlarnaSettings,
    *,
    base_url: str,
    cache_dir: Path | None,
    api_key: str | None,
    report: FetchReport,
    on_progress: Callable[[int, int], None] | None = None,
    policy: FetchPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> dict[OsmRequest, OsmAnswer]:
    """Resolve each distinct request once, from the cache or the OSM API.

    Args:
        requests: the requests of the build; duplicates are sent once.
        settings: the ``klarna`` section of the config.
        base_url: scheme and host from ``resolve_base_url``.
        cache_dir: the folder of the persistent cache, or None to use no cache.
        api_key: the v4 API key, or None.
        report: counters, updated in place.
        on_progress: called with (done, total) after each request is resolved.
        policy: retry and cache tuning; defaults to ``FetchPolicy()``.
        transport: an httpx transport that replaces the network, for tests.

    Returns:
        One answer per distinct request; failed answers have ``error`` set.

    Raises:
        AccessDeniedError: the API responded 403.
        FetchError: v4 without an API key, a 401, an unusable cache, or an API that cannot be
            reached while no cached response can replace it.
    """
    policy = policy or FetchPolicy()
    if settings.api_version == "v4" and not api_key:
        raise FetchError(
            f"klarna.api_version is v4, which authenticates with an API key, but the environment "
            f"variable {settings.api_key_env} is not set. Export the store's API key in "
            f"{settings.api_key_env}, or use api_version v3 with a v3 client id."
        )
    unique = sorted(set(requests))
    store = CacheStore(cache_dir, write_batch=policy.cache_write_batch) if cache_dir is not None else None
    try:
        async with OsmClient(
            settings, api_key=api_key, retry=policy.retry, report=report, transport=transport
        ) as client:
            stage = _FetchStage(settings, base_url, api_key, report, policy, client, store, on_progress, len(unique))
            return await stage.run(unique)
    finally:
        if store is not None:
            store.close()


def fetch_answers_sync(requests: Iterable[OsmRequest], settings: KlarnaSettings, **options) -> dict[OsmRequest, OsmAnswer]:
    """Run ``fetch_answers`` in a new event loop; takes the same arguments.

    When this thread already runs an event loop (a notebook, or a test that drives a browser
    with Playwright's sync API), the new loop runs in a worker thread, because
    ``asyncio.run`` cannot start inside a running loop.
    """
    coroutine = fetch_answers(requests, settings, **options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="osm-fetch") as executor:
        return executor.submit(asyncio.run, coroutine).result()


class _FetchStage:
    """The state of one fetch stage: the cache, the client, the results and the counters."""

    def __init__(self, settings, base_url, api_key, report, policy, client, store, on_progress, total) -> None:
        self.settings: KlarnaSettings = settings
        self.base_url: str = base_url
        self.api_key: str | None = api_key
        self.report: FetchReport = report
        self.policy: FetchPolicy = policy
        self.client: OsmClient = client
        self.store: CacheStore | None = store
        self.on_progress = on_progress
        self.total = total
        self.answers: dict[OsmRequest, OsmAnswer] = {}

    async def run(self, requests: list[OsmRequest]) -> dict[OsmRequest, OsmAnswer]:
        # Cache lookups: fresh entries are used at once.
        pending = []
        for request in requests:
            item = self._look_up(request)
            if item.decision.action == "use":
                assert item.entry is not None
                self.report.cache_hits += 1
                self._finish(_answer_from_entry(request, item.entry, "hit"))
            else:
                pending.append(item)
        if not pending:
            return self.answers

        # One request alone, so that a 403 or 401 stops the stage after a single request.
        probe = await self.client.send(pending[0].url, pending[0].decision.headers)
        self._handle(pending[0], probe)
        rest = pending[1:]
        if probe.status == 0:
            self._skip_unreachable(rest, probe)
            return self.answers

        # Fan out; the first 403 or 401 cancels the other requests and ends the stage.
        try:
            async with asyncio.TaskGroup() as group:
                for item in rest:
                    group.create_task(self._resolve(item))
        except* FetchError as errors:
            raise errors.exceptions[0] from None
        return self.answers

    def _look_up(self, request: OsmRequest) -> _Pending:
        # Only v4 sends the key, so only v4 responses depend on it.
        key_for_cache = self.api_key if self.settings.api_version == "v4" else None
        key = rules.cache_key(self.policy.cache_namespace or self.base_url, self.settings.api_version, self.settings.client_id, request, key_for_cache)
        url = request_url(self.base_url, request, self.settings)
        entry = self.store.get(key) if self.store is not None else None
        decision = rules.decide_lookup(entry, time.time())
        logger.debug("Cache %s: %s", url, decision.rule)
        return _Pending(request, key, url, entry, decision)

    async def _resolve(self, item: _Pending) -> OsmAnswer:
        exchange = await self.client.send(item.url, item.decision.headers)
        return self._handle(item, exchange)

    def _handle(self, item: _Pending, exchange: Exchange) -> OsmAnswer:
        now = time.time()
        if exchange.status == 403:
            raise AccessDeniedError(self._access_denied_message(exchange))
        if exchange.status == 401:
            raise FetchError(self._unauthorized_message(exchange))
        if exchange.status == 304 and item.entry is not None:
            return self._finish(self._revalidated(item, exchange, now))
        if exchange.status in (200, 204):
            body, problem = parse_body(exchange.status, exchange.body)
            if problem is None:
                return self._finish(self._fetched(item, exchange, body, now))
            return self._finish(self._failed(item, exchange, f"GET {item.url} returned a malformed response: {problem}"))
        return self._finish(self._failed(item, exchange, describe_failure(exchange)))

    def _revalidated(self, item: _Pending, exchange: Exchange, now: float) -> OsmAnswer:
        entry, decision = rules.freshen(item.entry, exchange.headers, now)
        logger.debug("Cache %s: 304, %s", item.url, decision.rule)
        if self.store is not None:
            if decision.store:
                self.store.put(entry)
            else:
                self.store.delete(item.key)
        self.report.revalidated += 1
        return _answer_from_entry(item.request, entry, "revalidated")

    def _fetched(self, item: _Pending, exchange: Exchange, body: dict | None, now: float) -> OsmAnswer:
        decision = rules.decide_store(exchange.status, exchange.headers)
        logger.debug("Cache %s: %s", item.url, decision.rule)
        entry = rules.new_entry(item.key, item.url, exchange.status, exchange.body, exchange.headers, now, decision.lifetime)
        if self.store is not None:
            if decision.store:
                self.store.put(entry)
            elif item.entry is not None:
                self.store.delete(item.key)
        fetched_at = _utc(now)
        expires_at = _utc(entry.expires_at) if decision.store and decision.lifetime > 0 else None
        return OsmAnswer(item.request, exchange.status, body, exchange.correlation_id, fetched_at, expires_at, "miss")

    def _failed(self, item: _Pending, exchange: Exchange, error: str) -> OsmAnswer:
        now = time.time()
        if item.entry is not None:
            fallback = rules.decide_stale_fallback(item.entry, now, self.policy.max_stale_seconds)
            logger.debug("Cache %s: %s", item.url, fallback.rule)
            if fallback.allowed:
                self.report.stale_served += 1
                stored = _utc(item.entry.stored_at).isoformat(timespec="seconds")
                logger.warning("%s Serving the cached response stored at %s instead (%s).", error, stored, fallback.rule)
                answer = _answer_from_entry(item.request, item.entry, "stale")
                answer.error = f"{error} The cached response stored at {stored} was used instead ({fallback.rule})."
                return answer
        self.report.failed += 1
        logger.warning("%s", error)
        return OsmAnswer(item.request, exchange.status, None, exchange.correlation_id, _utc(now), None, "miss", error)

    def _skip_unreachable(self, rest: list[_Pending], probe: Exchange) -> None:
        # A first request without any HTTP response means the API cannot be reached; sending the
        # others would repeat every timeout and retry.
        # The build decides what to publish: cached or published fragments may replace these.
        skipped = Exchange(url=self.base_url, status=0, error=probe.error)
        for item in rest:
            self._finish(self._failed(
                item, skipped,
                f"GET {item.url} was not sent because the first request to {self.base_url} got no response "
                f"({probe.error}); check klarna.base_url, the network and klarna.read_timeout_seconds.",
            ))

    def _finish(self, answer: OsmAnswer) -> OsmAnswer:
        self.answers[answer.request] = answer
        if self.on_progress is not None:
            self.on_progress(len(self.answers), self.total)
        return answer

    def _access_denied_message(self, exchange: Exchange) -> str:
        return (
            f"The OSM API responded HTTP 403 Forbidden to GET {exchange.url} "
            f"({_correlation(exchange)}). Either OSM API access is not enabled for client id "
            f"{self.settings.client_id} (it is off by default: ask your Klarna account manager to "
            f"enable it), or the request had no User-Agent header (osm-build sends "
            f"{self.settings.user_agent!r}; check klarna.user_agent and any proxy that may drop it)."
        )

    def _unauthorized_message(self, exchange: Exchange) -> str:
        where = f"GET {exchange.url} ({_correlation(exchange)})"
        if self.settings.api_version == "v4":
            return (
                f"The OSM API responded HTTP 401 Unauthorized to {where}: it rejected the API key in "
                f"the environment variable {self.settings.api_key_env} for client id "
                f"{self.settings.client_id}. Put this store's API key for the {self.settings.environment} "
                f"environment in {self.settings.api_key_env}."
            )
        return (
            f"The OSM API responded HTTP 401 Unauthorized to {where}: it rejected client id "
            f"{self.settings.client_id}. Check klarna.client_id; client ids that start with "
            f"klarna_live_client or klarna_test_client need api_version v4 and an API key."
        )


def parse_body(status: int, body: bytes) -> tuple[dict | None, str | None]:
    """Parse a 200 or 204 body into (body, problem).

    An empty body or a 204 gives (None, None): nothing to show. A body that is not JSON or has no
    ``content.nodes`` list, or has nodes but no ``impression_url`` string, gives a problem.
    """
    if status == 204 or not body.strip():
        return None, None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None, f"the body is not JSON: {_excerpt(body)}"
    content = data.get("content") if isinstance(data, dict) else None
    nodes = content.get("nodes") if isinstance(content, dict) else None
    if not isinstance(nodes, list):
        return None, f"content.nodes is missing or not a list: {_excerpt(body)}"
    if nodes and not isinstance(data.get("impression_url"), str):
        return None, f"impression_url is missing or not a string: {_excerpt(body)}"
    return data, None


def describe_failure(exchange: Exchange) -> str:
    """Return the error sentence of a request that got no usable response."""
    tries = f" after {exchange.attempts} attempts" if exchange.attempts > 1 else ""
    if exchange.status == 0:
        return f"GET {exchange.url} got no response{tries}: {exchange.error}."
    status = exchange.status
    if status == 429:
        advice = "Lower klarna.requests_per_second or try again later."
    elif status >= 500:
        advice = "The OSM API failed; try the build again later."
    elif status in (400, 404):
        advice = "Check the placement key, the locale and the amount of this request."
    else:
        advice = "This status is not expected from the OSM API."
    return (
        f"GET {exchange.url} responded HTTP {status}{tries} ({_correlation(exchange)}): "
        f"{_excerpt(exchange.body)} {advice}"
    )


def _answer_from_entry(request: OsmRequest, entry: CacheEntry, cache_status: str) -> OsmAnswer:
    body, _ = parse_body(entry.status, entry.body)
    expires_at = _utc(entry.expires_at) if entry.lifetime > 0 else None
    return OsmAnswer(request, entry.status, body, entry.correlation_id, _utc(entry.stored_at), expires_at, cache_status)


def _correlation(exchange: Exchange) -> str:
    correlation_id = exchange.correlation_id
    return f"klarna-correlation-id {correlation_id}" if correlation_id else "no klarna-correlation-id header"


def _excerpt(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "(empty body)"
    if len(text) > ERROR_BODY_LIMIT:
        return repr(text[:ERROR_BODY_LIMIT] + "...")
    return repr(text)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)
