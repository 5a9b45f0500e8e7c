"""Helpers for tests that talk HTTP to an emulator."""

from __future__ import annotations

from typing import Any

import httpx

from osm_build.emulator.server import RunningEmulator
from osm_build.emulator.settings import DEFAULT_CLIENT_IDS

CLIENT_ID = DEFAULT_CLIENT_IDS[0]
USER_AGENT = "osm-build-tests/1.0"


def client_for(emulator: RunningEmulator, **options: Any) -> httpx.Client:
    """Return an httpx client for the emulator that sends a User-Agent, as the API requires."""
    options.setdefault("timeout", 5.0)
    return httpx.Client(base_url=emulator.base_url, headers={"User-Agent": USER_AGENT}, **options)


def query(
    placement_key: str = "credit-promotion-badge",
    locale: str = "en-US",
    purchase_amount: int | str | None = 12000,
    **extra: Any,
) -> dict[str, Any]:
    """Return the query parameters of an OSM request for the test client id."""
    params: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "placement_key": placement_key,
        "locale": locale,
    }
    if purchase_amount is not None:
        params["purchase_amount"] = purchase_amount
    params.update(extra)
    return params
