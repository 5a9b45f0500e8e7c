"""Hosts and request URLs of the OSM API."""

from __future__ import annotations

from urllib.parse import urlencode

from osm_build.config import KlarnaSettings
from osm_build.errors import FetchError
from osm_build.fetch.models import OsmRequest

# Klarna's documented API hosts by (environment, region); the path is /messaging/{version}.
API_HOSTS = {
    ("playground", "eu"): "https://api.playground.klarna.com",
    ("playground", "na"): "https://api-na.playground.klarna.com",
    ("playground", "oc"): "https://api-oc.playground.klarna.com",
    ("production", "eu"): "https://api.klarna.com",
    ("production", "na"): "https://api-na.klarna.com",
    ("production", "oc"): "https://api-oc.klarna.com",
}

# Only this placement takes a purchase amount; the top strip is site-wide.
AMOUNT_PLACEMENTS = frozenset({"credit-promotion-badge"})


def resolve_base_url(settings: KlarnaSettings, *, emulator_url: str | None = None) -> str:
    """Return the scheme and host to call, without a path.

    ``klarna.base_url`` wins, then ``emulator_url`` for the emulator environment, then Klarna's
    host for the configured environment and region.

    Raises:
        FetchError: the environment is ``emulator`` and neither URL is given.
    """
    if settings.base_url:
        return settings.base_url.rstrip("/")
    if settings.environment == "emulator":
        if not emulator_url:
            raise FetchError(
                "klarna.environment is 'emulator' but no emulator is running and klarna.base_url "
                "is not set; start the emulator with the build, or set klarna.base_url to its URL"
            )
        return emulator_url.rstrip("/")
    return API_HOSTS[(settings.environment, settings.region)]


def request_params(request: OsmRequest, settings: KlarnaSettings) -> list[tuple[str, str]]:
    """Return the query parameters of one request, in a fixed order and nothing else."""
    params = [
        ("client_id", settings.client_id),
        ("placement_key", request.placement_key),
        ("locale", request.locale),
    ]
    if request.placement_key in AMOUNT_PLACEMENTS and request.purchase_amount is not None:
        params.append(("purchase_amount", str(request.purchase_amount)))
    return params


def request_url(base_url: str, request: OsmRequest, settings: KlarnaSettings) -> str:
    """Return the full GET URL of one request; it never contains a credential."""
    query = urlencode(request_params(request, settings))
    return f"{base_url.rstrip('/')}/messaging/{settings.api_version}?{query}"
