"""The Starlette app that emulates the Klarna OSM API.

Routes:
    ``GET /messaging/v3`` and ``/messaging/v4``: the API, with the documented query parameters.
    ``GET|HEAD /__emulator/impression/{ad_id}``: impression URLs returned in responses.
    ``GET /__emulator/stats`` and ``POST /__emulator/reset``: counters for tests and benchmarks.
    ``GET /__emulator/badge.svg`` and ``/__emulator/learn-more``: targets of the content nodes.

Every API response, errors included, carries a ``klarna-correlation-id`` and a ``Cache-Control``
header. Client errors (403, 401, 400) are checked first; faults are injected only into requests
that would otherwise get a regular response.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from osm_build.emulator import faults
from osm_build.emulator.checks import ApiError, ApiRequest, RequestChecker, parse_amount
from osm_build.emulator.faults import FaultPicker
from osm_build.emulator.messages import BADGE_SVG, LEARN_MORE_HTML, build_nodes, main_text
from osm_build.emulator.settings import EmulatorSettings
from osm_build.emulator.stats import EmulatorStats

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json"
# The smallest transparent GIF, served to impression beacons that ask for an image.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


def create_app(settings: EmulatorSettings, *, public_base_url: str | None = None) -> Starlette:
    """Create the emulator app.

    Args:
        settings: How the emulator responds.
        public_base_url: Base URL for links in responses (badge, learn-more, impressions). It
            overrides ``settings.public_base_url``; without either, each request's base URL is used.

    Returns:
        The app. ``app.state.stats`` is its ``EmulatorStats``.
    """
    emulator = _Emulator(settings, public_base_url or settings.public_base_url)
    app = Starlette(
        routes=[
            Route("/messaging/{version}", emulator.messaging, methods=["GET"]),
            Route("/__emulator/impression/{ad_id}", emulator.impression, methods=["GET", "HEAD"]),
            Route("/__emulator/stats", emulator.stats_page, methods=["GET"]),
            Route("/__emulator/reset", emulator.reset, methods=["POST"]),
            Route("/__emulator/badge.svg", emulator.badge, methods=["GET"]),
            Route("/__emulator/learn-more", emulator.learn_more, methods=["GET"]),
        ],
        exception_handlers={HTTPException: emulator.http_error, Exception: emulator.internal_error},
    )
    app.state.stats = emulator.stats
    app.state.settings = settings
    return app


class _Emulator:
    """The state and request handlers of one emulator app."""

    def __init__(self, settings: EmulatorSettings, public_base_url: str | None) -> None:
        self.settings = settings
        self.stats = EmulatorStats()
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.checker = RequestChecker(settings)
        self.faults = FaultPicker(settings)
        if settings.cache_control is not None:
            self.cache_control = settings.cache_control
        else:
            self.cache_control = f"max-age={settings.max_age_seconds}"
        # Part of every ETag, so that a change of settings changes the tags.
        self.settings_digest = hashlib.blake2b(
            settings.model_dump_json().encode(), digest_size=8
        ).hexdigest()

    # --- the API ---

    async def messaging(self, request: Request) -> Response:
        """Respond to ``GET /messaging/{version}`` as the OSM API would."""
        correlation_id = str(uuid.uuid4())
        query = request.query_params
        placement_key = query.get("placement_key")
        locale = query.get("locale")
        amount = parse_amount(query.get("purchase_amount"))
        fault = self.faults.pick()
        if self.settings.latency_ms:
            await asyncio.sleep(self.settings.latency_ms / 1000)

        try:
            api_request = self.checker.check(request)
        except ApiError as error:
            logger.debug(
                "Emulator rejected %s with %s: %s", request.url.path, error.status, error.message
            )
            fault = None
            response = self._error(
                correlation_id, error.status, error.code, error.message, error.headers
            )
        else:
            if fault == faults.TIMEOUT:
                self._record(placement_key, locale, amount, "timeout", fault)
                return await self._hang(request, correlation_id)
            response = self._respond(request, api_request, fault, correlation_id)

        self._record(placement_key, locale, amount, str(response.status_code), fault)
        return response

    def _respond(
        self, request: Request, api_request: ApiRequest, fault: str | None, correlation_id: str
    ) -> Response:
        if fault == faults.FAIL:
            status = self.faults.choose((500, 503))
            code = self.faults.choose(("INTERNAL_ERROR", "TIMEOUT"))
            return self._error(correlation_id, status, code, "Emulated server error; retry later.")
        if fault == faults.THROTTLE:
            return self._error(
                correlation_id,
                429,
                "TOO_MANY_REQUESTS",
                "Emulated rate limit; retry after the time in the Retry-After header.",
                {"retry-after": self.settings.retry_after},
            )
        if fault == faults.MALFORMED:
            body = self.faults.choose(faults.MALFORMED_BODIES)
            return Response(body, 200, self._headers(correlation_id), media_type=JSON_TYPE)
        if fault == faults.EMPTY:
            if self.faults.choose((True, False)):
                return Response(None, 204, self._headers(correlation_id))
            body = _dump({"content": {"nodes": []}})
            return Response(body, 200, self._headers(correlation_id), media_type=JSON_TYPE)

        return self._offer(request, api_request, correlation_id)

    def _offer(self, request: Request, api_request: ApiRequest, correlation_id: str) -> Response:
        """Build the regular response: the message, or the configured "no offer" response."""
        text = main_text(api_request.placement_key, api_request.locale, api_request.purchase_amount)
        if text is None and self.settings.no_offer_answer == "no-content":
            return Response(None, 204, self._headers(correlation_id))

        ad_id = self._ad_id(api_request, request)
        headers = self._headers(correlation_id)
        headers["etag"] = etag = f'W/"{ad_id}"'
        if _matches(request.headers.get("if-none-match"), etag):
            return Response(None, 304, headers)

        if text is None and self.settings.no_offer_answer == "empty-body":
            return Response(b"", 200, headers, media_type=JSON_TYPE)

        base = self._base_url(request)
        if text is None:
            # NOTE: the real response for an amount outside the financing range is undocumented.
            nodes: list[dict[str, Any]] = []
        else:
            link_query = urlencode(
                {"placement_key": api_request.placement_key, "locale": api_request.locale}
            )
            nodes = build_nodes(
                text,
                api_request.locale,
                learn_more_url=f"{base}/__emulator/learn-more?{link_query}",
                badge_url=f"{base}/__emulator/badge.svg",
            )
        body = {
            "content": {"nodes": nodes},
            "impression_url": self._impression_url(base, ad_id, api_request),
        }
        return Response(_dump(body), 200, headers, media_type=JSON_TYPE)

    async def _hang(self, request: Request, correlation_id: str) -> Response:
        """Hold the request open until the client disconnects or ``hang_seconds`` pass."""

        async def wait_for_disconnect() -> None:
            while (await request.receive())["type"] != "http.disconnect":
                pass

        try:
            await asyncio.wait_for(wait_for_disconnect(), timeout=self.settings.hang_seconds)
        except TimeoutError:
            pass
        return self._error(
            correlation_id, 504, "TIMEOUT", "Emulated timeout: the response never came."
        )

    # --- emulator pages ---

    async def impression(self, request: Request) -> Response:
        """Count a hit on an impression URL and respond 204, or with a 1x1 GIF to image requests."""
        url = request.url.path
        if request.url.query:
            url = f"{url}?{request.url.query}"
        self.stats.record_impression(url, request.headers.get("user-agent"), time.time())
        headers = {"access-control-allow-origin": "*", "cache-control": "no-store"}
        if "image/" in request.headers.get("accept", ""):
            return Response(PIXEL_GIF, 200, headers, media_type="image/gif")
        return Response(None, 204, headers)

    async def stats_page(self, request: Request) -> Response:
        """Return the counters as JSON."""
        return Response(
            _dump(self.stats.snapshot()), 200, {"cache-control": "no-store"}, media_type=JSON_TYPE
        )

    async def reset(self, request: Request) -> Response:
        """Zero the counters and restart the fault draws from the seed."""
        self.stats.reset()
        self.faults.reseed()
        logger.info("Emulator counters were reset")
        return Response(None, 204, {"cache-control": "no-store"})

    async def badge(self, request: Request) -> Response:
        """Serve the badge image that IMAGE nodes link to."""
        return Response(
            BADGE_SVG, 200, {"cache-control": "max-age=86400"}, media_type="image/svg+xml"
        )

    async def learn_more(self, request: Request) -> Response:
        """Serve the page that ACTION nodes link to."""
        return Response(
            LEARN_MORE_HTML, 200, {"cache-control": "max-age=86400"}, media_type="text/html"
        )

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Respond to an unknown path or method with Klarna's error object."""
        assert isinstance(exc, HTTPException)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
        message = f"{request.method} {request.url.path} failed: {exc.detail}."
        return self._error(str(uuid.uuid4()), exc.status_code, code, message, exc.headers)

    async def internal_error(self, request: Request, exc: Exception) -> Response:
        """Respond with a 500 error object when the emulator raises an unexpected exception."""
        correlation_id = str(uuid.uuid4())
        logger.error(
            "Emulator failed on %s %s (correlation id %s): %r",
            request.method,
            request.url.path,
            correlation_id,
            exc,
        )
        message = f"The emulator failed: {exc!r}. This is a bug in osm-build's emulator."
        return self._error(correlation_id, 500, "INTERNAL_ERROR", message)

    # --- helpers ---

    def _headers(self, correlation_id: str) -> dict[str, str]:
        return {"klarna-correlation-id": correlation_id, "cache-control": self.cache_control}

    def _error(
        self,
        correlation_id: str,
        status: int,
        code: str,
        message: str,
        extra_headers: dict[str, str] | None = None,
    ) -> Response:
        body = {"error_code": code, "error_messages": [message], "correlation_id": correlation_id}
        headers = self._headers(correlation_id)
        headers.update(extra_headers or {})
        return Response(_dump(body), status, headers, media_type=JSON_TYPE)

    def _base_url(self, request: Request) -> str:
        if self.public_base_url:
            return self.public_base_url
        return str(request.base_url).rstrip("/")

    def _ad_id(self, api_request: ApiRequest, request: Request) -> str:
        """Return a stable id of the response: the same request and settings give the same id."""
        key = "|".join(
            (
                self.settings_digest,
                api_request.version,
                api_request.placement_key,
                api_request.locale,
                str(api_request.purchase_amount),
                self._base_url(request),
            )
        )
        return hashlib.blake2b(key.encode(), digest_size=12).hexdigest()

    def _impression_url(self, base: str, ad_id: str, api_request: ApiRequest) -> str:
        query = {"placement_key": api_request.placement_key, "locale": api_request.locale}
        if api_request.purchase_amount is not None:
            query["purchase_amount"] = str(api_request.purchase_amount)
        query["timestamp"] = str(int(time.time() * 1000))
        return f"{base}/__emulator/impression/{ad_id}?{urlencode(query)}"

    def _record(
        self,
        placement_key: str | None,
        locale: str | None,
        amount: int | str | None,
        status: str,
        fault: str | None,
    ) -> None:
        self.stats.record_request(
            placement_key=placement_key,
            locale=locale,
            purchase_amount=amount,
            status=status,
            fault=fault,
        )


def _dump(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Tell whether an If-None-Match header matches ``etag`` by weak comparison (RFC 9110)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(
        candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(",")
    )
