"""The Starlette app of ``osm-build serve``: ``POST /hooks/{name}`` and ``GET /healthz``.

Checks run in this order, and the first that fails sets the response: unknown source 404, size
413 (declared, then while reading), signature 401, content type 415, body 400. The signature comes
before the content type, so an unauthenticated sender learns nothing about what the endpoint
accepts. The size comes first because the signature covers the whole body. A request that fails
both the signature and the content type check gets 401, and its log line names both problems.
A delivery is committed to the journal before the 202; a delivery id that the journal already has
gets 200 and is not built again. Each rejection logs one WARNING line with the source, the reason
and the delivery id (as sent, or as verified for a 400); never the secret, the signature or the body.

``GET /healthz`` always answers 200, because the receiver still stores deliveries while builds
fail, and a 503 would make a load balancer turn senders away. Its ``status`` is ``degraded`` when
the last build failed or deliveries were given up since the last successful round of builds, and
``ok`` otherwise.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from osm_build.webhook.journal import Journal
from osm_build.webhook.payloads import JSON_REQUIRED, PayloadError, is_json_type, parse_payload
from osm_build.webhook.settings import WebhookSettings, WebhookSource
from osm_build.webhook.verify import VerificationError, verify_request
from osm_build.webhook.worker import BuildWorker

logger = logging.getLogger(__name__)

# Headers that carry a delivery id, read (unverified) only to name a rejected delivery in the log.
_ID_HEADERS = ("x-shopify-webhook-id", "webhook-id", "idempotency-key", "x-contentful-webhook-request-id")


class _Rejected(Exception):
    """A rejection: the status, the reason sent back, and the reason and delivery id to log."""

    def __init__(self, status: int, reason: str, *, logged_reason: str | None = None,
                 delivery_id: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.logged_reason = logged_reason or reason
        self.delivery_id = delivery_id


def create_app(webhooks: WebhookSettings, keys: Mapping[str, tuple[bytes, ...]], journal: Journal,
               worker: BuildWorker) -> Starlette:
    """Build the app. Its lifespan starts and stops ``worker``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:
            await run_in_threadpool(worker.stop)

    async def receive(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        source = webhooks.source(name)
        sent_id = _sent_delivery_id(request, source)
        if source is None:
            logger.warning("Rejected delivery %s to unknown source %r: no such source (HTTP 404)", sent_id, name)
            return JSONResponse({"error": f"no webhook source named {name!r}"}, status_code=404)
        try:
            body = await _read_body(request, webhooks.max_body_bytes)
            content_type = request.headers.get("content-type", "")
            type_problem = _content_type_problem(source, content_type)
            try:
                info = verify_request(
                    source, keys[source.name], method=request.method, path=_signed_path(request),
                    headers=request.headers, body=body, tolerance_seconds=webhooks.timestamp_tolerance_seconds,
                )
            except VerificationError as error:
                # The response names only the signature problem; the log names both.
                logged = str(error) if type_problem is None else f"{error}, and {type_problem}"
                raise _Rejected(401, str(error), logged_reason=logged) from None
            if type_problem is not None:
                raise _Rejected(415, type_problem)
            try:
                change = parse_payload(source, info.topic, content_type, body)
            except PayloadError as error:
                raise _Rejected(400, str(error), delivery_id=repr(info.delivery_id[:80])) from None
        except _Rejected as rejection:
            return _reject(source, rejection, rejection.delivery_id or sent_id)

        stored = await run_in_threadpool(journal.add, source.name, info.delivery_id, info.topic, content_type, body)
        if not stored:
            logger.info("Delivery %s from %s was received before; acknowledged without a new build",
                        info.delivery_id, source.name)
            return JSONResponse({"status": "duplicate", "delivery_id": info.delivery_id}, status_code=200)
        logger.info("Stored delivery %s from %s (%s, %d bytes)", info.delivery_id, source.name,
                    info.topic or "no topic", len(body))
        if change.full:
            logger.info("Delivery %s from %s triggers a full rebuild: %s", info.delivery_id, source.name,
                        change.reason)
        worker.notify()
        return JSONResponse({"status": "accepted", "delivery_id": info.delivery_id}, status_code=202)

    async def healthz(request: Request) -> JSONResponse:
        queue = await run_in_threadpool(journal.pending_count)
        health = worker.health()
        return JSONResponse({"status": health.status, "queue": queue, "builds": worker.builds,
                             "last_build": worker.last_build, "last_error": health.last_error,
                             "given_up": health.given_up})

    routes = [
        Route("/hooks/{name}", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _read_body(request: Request, limit: int) -> bytes:
    """Return the raw body, read up to ``limit`` bytes.

    Raises:
        _Rejected: with 400 for a Content-Length that is not a number, 413 for a body over ``limit``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise _Rejected(400, f"Content-Length {declared[:20]!r} is not a number")
        if int(declared) > limit:
            raise _Rejected(413, f"Content-Length {int(declared)} is over the limit of {limit} bytes")

    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Rejected(413, f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _content_type_problem(source: WebhookSource, content_type: str) -> str | None:
    """Return why the content type does not fit the source (a 415 reason), or None when it does."""
    if source.type in JSON_REQUIRED and not is_json_type(content_type):
        return f"content type {content_type[:60]!r} is not JSON"
    return None


def _signed_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _sent_delivery_id(request: Request, source: WebhookSource | None) -> str:
    names = list(_ID_HEADERS)
    if source is not None and source.id_header:
        names.insert(0, source.id_header)
    for name in names:
        value = request.headers.get(name)
        if value:
            return repr(value[:80])
    return "(no id)"


def _reject(source: WebhookSource, rejection: _Rejected, delivery_id: str) -> JSONResponse:
    logger.warning("Rejected delivery %s from source %s: %s (HTTP %d)", delivery_id, source.name,
                   rejection.logged_reason, rejection.status)
    return JSONResponse({"error": rejection.reason}, status_code=rejection.status)
