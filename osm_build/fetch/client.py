"""Sending one OSM request over HTTP, with retries, the rate limit and the concurrency bound.

This is the inner part of the fetch layers: retry, then rate limit and concurrency, then the
network. The cache sits outside, in ``osm_build.fetch.stage``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from osm_build.config import KlarnaSettings
from osm_build.fetch.models import FetchReport
from osm_build.fetch.ratelimit import RequestGate
from osm_build.fetch.retry import RetryPolicy, parse_retry_after

logger = logging.getLogger(__name__)

CORRELATION_HEADER = "klarna-correlation-id"

# Failures without an HTTP response that a later attempt may not repeat.
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)


@dataclass
class Exchange:
    """The final outcome of one request after its retries.

    ``status`` is 0 and ``error`` describes the failure when no HTTP response arrived.
    """

    url: str
    status: int
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    attempts: int = 1
    error: str | None = None
    retryable_error: bool = False

    @property
    def correlation_id(self) -> str | None:
        return self.headers.get(CORRELATION_HEADER)


class OsmClient:
    """An async HTTP client for the OSM API that retries, rate-limits and bounds concurrency.

    Every request carries ``User-Agent``; with an API key (v4) it also carries HTTP Basic auth
    with the key as user name and an empty password.
    """

    def __init__(
        self,
        settings: KlarnaSettings,
        *,
        api_key: str | None,
        retry: RetryPolicy,
        report: FetchReport,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._retry = retry
        self._report = report
        self._rng = rng or random.Random()
        self._gate = RequestGate(settings.requests_per_second, settings.concurrency)
        timeout = httpx.Timeout(
            connect=settings.connect_timeout_seconds,
            read=settings.read_timeout_seconds,
            write=settings.read_timeout_seconds,
            pool=None,
        )
        limits = httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency)
        self._client = httpx.AsyncClient(
            headers={"User-Agent": settings.user_agent},
            auth=httpx.BasicAuth(api_key, "") if api_key and settings.api_version == "v4" else None,
            timeout=timeout,
            limits=limits,
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> OsmClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._client.aclose()

    async def send(self, url: str, headers: Mapping[str, str] | None = None) -> Exchange:
        """Send ``GET url`` until it gets a final response or no retry is left.

        Retries follow the retry policy: timeouts, connection errors, 429 and the policy's 5xx
        statuses are retried, any other response is final. Each response is read in full, so a
        discarded response's connection is released before the wait.
        """
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            exchange = await self._attempt(url, headers, attempt)
            if not (exchange.retryable_error or self._retry.is_retryable_status(exchange.status)):
                return exchange
            retry_after = parse_retry_after(exchange.headers.get("retry-after")) if exchange.status else None
            wait = self._retry.next_wait(attempt, retry_after, waited, self._rng)
            if wait is None:
                return exchange
            self._report.retries += 1
            logger.info(
                "Retrying GET %s in %.2f s (attempt %s of %s) after %s",
                url, wait, attempt + 1, self._retry.max_attempts,
                f"HTTP {exchange.status}" if exchange.status else exchange.error,
            )
            await asyncio.sleep(wait)
            waited += wait

    async def _attempt(self, url: str, headers: Mapping[str, str] | None, attempt: int) -> Exchange:
        async with self._gate.slot():
            self._report.requests_sent += 1
            try:
                response = await self._client.get(url, headers=headers)
            except RETRYABLE_ERRORS as error:
                description = _describe_error(error)
                logger.info("GET %s -> no response: %s", url, description)
                return Exchange(url=url, status=0, attempts=attempt, error=description, retryable_error=True)
            except httpx.TransportError as error:
                description = _describe_error(error)
                logger.info("GET %s -> no response: %s", url, description)
                return Exchange(url=url, status=0, attempts=attempt, error=description)
        correlation_id = response.headers.get(CORRELATION_HEADER)
        logger.info("GET %s -> %s (klarna-correlation-id %s)", url, response.status_code, correlation_id)
        return Exchange(
            url=url, status=response.status_code, headers=response.headers, body=response.content, attempts=attempt
        )


def _describe_error(error: httpx.TransportError) -> str:
    kind = "timed out" if isinstance(error, httpx.TimeoutException) else "connection failed"
    detail = str(error) or "no detail"
    return f"{kind} ({type(error).__name__}: {detail})"
