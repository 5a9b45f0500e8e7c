"""The emulated OSM API over real HTTP: access checks, validation, bodies and caching."""

from __future__ import annotations

import asyncio
import base64
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from emulator_helpers import CLIENT_ID, client_for, query

from osm_build.emulator.app import create_app
from osm_build.emulator.settings import EmulatorSettings
from osm_build.locales import SUPPORTED_LOCALES

NBSP = "\u00a0"


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """Check an error response's status, Klarna error object and correlation id; return the body."""
    assert response.status_code == status
    correlation_id = response.headers["klarna-correlation-id"]
    assert uuid.UUID(correlation_id).version == 4
    body = response.json()
    assert body["error_code"] == code
    assert body["correlation_id"] == correlation_id
    assert isinstance(body["error_messages"], list)
    assert body["error_messages"][0]
    return body


def test_missing_user_agent_403(emulator):
    with httpx.Client(base_url=emulator.base_url) as client:
        client.headers.pop("User-Agent")
        response = client.get("/messaging/v3", params=query())
    body = assert_error(response, 403, "FORBIDDEN")
    assert "User-Agent" in body["error_messages"][0]


def test_unknown_client_id_403(emulator):
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query(client_id="not-a-store"))
    body = assert_error(response, 403, "FORBIDDEN")
    assert "'not-a-store'" in body["error_messages"][0]


def test_v3_missing_client_id_403(emulator):
    params = query()
    del params["client_id"]
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=params)
    assert_error(response, 403, "FORBIDDEN")


def test_configured_client_ids_accepted(emulator_factory):
    emulator = emulator_factory(client_ids=("store-a", "store-b"))
    with client_for(emulator) as client:
        accepted = client.get("/messaging/v3", params=query(client_id="store-b"))
        rejected = client.get("/messaging/v3", params=query())
    assert accepted.status_code == 200
    assert rejected.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"locale": "en-XX"}, "locale"),
        ({"locale": "en_US"}, "locale"),
        ({"placement_key": "sidebar-promotion-badge"}, "placement_key"),
        ({"purchase_amount": None}, "purchase_amount"),
        ({"purchase_amount": "abc"}, "purchase_amount"),
        ({"purchase_amount": "0"}, "purchase_amount"),
        ({"purchase_amount": "-500"}, "purchase_amount"),
        ({"purchase_amount": "120.00"}, "purchase_amount"),
        ({"purchase_amount": "9" * 30}, "purchase_amount"),
        ({"currency": "USD"}, "currency"),
    ],
)
def test_invalid_query_400(emulator, changes, field):
    params = query(**{key: value for key, value in changes.items() if key != "purchase_amount"})
    if "purchase_amount" in changes:
        params.pop("purchase_amount")
        if changes["purchase_amount"] is not None:
            params["purchase_amount"] = changes["purchase_amount"]
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=params)
    body = assert_error(response, 400, "BAD_VALUE")
    assert field in body["error_messages"][0]


def test_repeated_parameter_400(emulator):
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=[*query().items(), ("locale", "de-DE")])
    body = assert_error(response, 400, "BAD_VALUE")
    assert "locale" in body["error_messages"][0]


def test_unknown_version_404(emulator):
    with client_for(emulator) as client:
        response = client.get("/messaging/v2", params=query())
    assert_error(response, 404, "NOT_FOUND")


def test_credit_badge_body_shape(emulator):
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query(purchase_amount=12000))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert uuid.UUID(response.headers["klarna-correlation-id"]).version == 4
    body = response.json()
    nodes = body["content"]["nodes"]
    assert [(node["type"], node["name"]) for node in nodes] == [
        ("TEXT", "TEXT_MAIN"),
        ("TEXT", "TEXT_DISCLAIMER"),
        ("ACTION", "ACTION_LEARN_MORE"),
        ("IMAGE", "KLARNA_BADGE"),
    ]
    assert nodes[0]["value"] == "Make 4 payments of $30.00. No fees."
    assert "Not an offer from Klarna" in nodes[1]["value"]
    assert nodes[2]["label"] == "Learn more"
    assert nodes[3]["alt"] == "Klarna"
    assert body["impression_url"].startswith(f"{emulator.base_url}/__emulator/impression/")
    assert "placement_key=credit-promotion-badge" in body["impression_url"]
    assert "locale=en-US" in body["impression_url"]
    assert "purchase_amount=12000" in body["impression_url"]
    assert "timestamp=" in body["impression_url"]


def test_node_links_served(emulator):
    with client_for(emulator) as client:
        nodes = client.get("/messaging/v3", params=query()).json()["content"]["nodes"]
        learn_more = client.get(nodes[2]["url"])
        badge = client.get(nodes[3]["url"])
    assert nodes[2]["url"].startswith(emulator.base_url)
    assert learn_more.status_code == 200
    assert "not Klarna" in learn_more.text
    assert badge.status_code == 200
    assert badge.headers["content-type"] == "image/svg+xml"
    assert badge.text.startswith("<svg")


def test_public_base_url_in_links(emulator_factory):
    emulator = emulator_factory(public_base_url="https://osm.example.test/")
    with client_for(emulator) as client:
        body = client.get("/messaging/v3", params=query()).json()
    assert body["impression_url"].startswith("https://osm.example.test/__emulator/impression/")
    assert body["content"]["nodes"][3]["url"] == "https://osm.example.test/__emulator/badge.svg"


@pytest.mark.parametrize(
    ("locale", "amount", "expected"),
    [
        ("en-US", 12000, "Make 4 payments of $30.00. No fees."),
        ("en-US", 12001, "Make 4 payments of $30.01. No fees."),
        ("en-US", 99999, "Make 4 payments of $250.00. No fees."),
        ("de-DE", 12000, f"Bezahle in 4 Raten à 30,00{NBSP}€. Keine Gebühren."),
        ("de-DE", 1234567 // 10, f"Bezahle in 4 Raten à 308,64{NBSP}€. Keine Gebühren."),
        ("sv-SE", 12000, f"Betala i 4 delar om 30,00{NBSP}kr. Inga avgifter."),
        ("sv-SE", 100000, f"Betala i 4 delar om 250,00{NBSP}kr. Inga avgifter."),
        ("en-GB", 12000, "Make 4 payments of £30.00. No fees."),
    ],
)
def test_formatted_amounts(emulator, locale, amount, expected):
    with client_for(emulator) as client:
        body = client.get(
            "/messaging/v3", params=query(locale=locale, purchase_amount=amount)
        ).json()
    assert body["content"]["nodes"][0]["value"] == expected


def test_top_strip_text(emulator):
    with client_for(emulator) as client:
        response = client.get(
            "/messaging/v3",
            params=query(placement_key="top-strip-promotion-badge", purchase_amount=None),
        )
    nodes = response.json()["content"]["nodes"]
    assert response.status_code == 200
    assert nodes[0]["value"] == "Pay in 4 interest-free payments on purchases of $35.00-$1,000.00."
    assert [node["name"] for node in nodes[1:]] == [
        "TEXT_DISCLAIMER",
        "ACTION_LEARN_MORE",
        "KLARNA_BADGE",
    ]


def test_every_locale_served(emulator):
    with client_for(emulator) as client:
        for locale in SUPPORTED_LOCALES:
            response = client.get(
                "/messaging/v3", params=query(locale=locale, purchase_amount=20000)
            )
            assert response.status_code == 200, locale
            assert response.json()["content"]["nodes"][0]["name"] == "TEXT_MAIN", locale


def test_no_offer_empty_nodes(emulator):
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query(purchase_amount=3499))
    assert response.status_code == 200
    nodes = response.json()["content"]["nodes"]
    assert "TEXT_MAIN" not in [node["name"] for node in nodes]


def test_no_offer_no_content(emulator_factory):
    emulator = emulator_factory(no_offer_answer="no-content")
    with client_for(emulator) as client:
        too_large = client.get("/messaging/v3", params=query(purchase_amount=100001))
        in_range = client.get("/messaging/v3", params=query(purchase_amount=100000))
    assert too_large.status_code == 204
    assert too_large.content == b""
    assert "klarna-correlation-id" in too_large.headers
    assert in_range.status_code == 200


def test_no_offer_empty_body(emulator_factory):
    emulator = emulator_factory(no_offer_answer="empty-body")
    with client_for(emulator) as client:
        response = client.get("/messaging/v3", params=query(purchase_amount=50))
    assert response.status_code == 200
    assert response.content == b""


def test_cache_control_default(emulator):
    with client_for(emulator) as client:
        ok = client.get("/messaging/v3", params=query())
        error = client.get("/messaging/v3", params=query(locale="xx-XX"))
    assert ok.headers["cache-control"] == "max-age=3600"
    assert error.headers["cache-control"] == "max-age=3600"


def test_cache_control_settings(emulator_factory):
    max_age = emulator_factory(max_age_seconds=60)
    verbatim = emulator_factory(max_age_seconds=60, cache_control="no-store")
    with client_for(max_age) as client:
        assert client.get("/messaging/v3", params=query()).headers["cache-control"] == "max-age=60"
    with client_for(verbatim) as client:
        assert client.get("/messaging/v3", params=query()).headers["cache-control"] == "no-store"


def test_etag_revalidation_304(emulator):
    with client_for(emulator) as client:
        first = client.get("/messaging/v3", params=query())
        second = client.get("/messaging/v3", params=query())
        other = client.get("/messaging/v3", params=query(purchase_amount=12100))
        revalidated = client.get(
            "/messaging/v3", params=query(), headers={"If-None-Match": first.headers["etag"]}
        )
        stale = client.get(
            "/messaging/v3", params=query(), headers={"If-None-Match": other.headers["etag"]}
        )
    assert first.headers["etag"] == second.headers["etag"]
    assert first.headers["etag"] != other.headers["etag"]
    assert revalidated.status_code == 304
    assert revalidated.content == b""
    assert revalidated.headers["etag"] == first.headers["etag"]
    assert revalidated.headers["cache-control"] == "max-age=3600"
    assert stale.status_code == 200
    assert emulator.stats()["by_status"] == {"200": 4, "304": 1}


def basic(username: str, password: str = "") -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_v4_auth(emulator_factory, monkeypatch):
    monkeypatch.setenv("OSM_EMULATOR_API_KEYS", "key-one, key-two")
    emulator = emulator_factory()
    params = query()
    del params["client_id"]
    with client_for(emulator) as client:
        missing = client.get("/messaging/v4", params=params)
        wrong = client.get("/messaging/v4", params=params, headers=basic("key-three"))
        garbage = client.get("/messaging/v4", params=params, headers={"Authorization": "Basic !!"})
        as_username = client.get("/messaging/v4", params=params, headers=basic("key-two"))
        as_password = client.get(
            "/messaging/v4", params=params, headers=basic("merchant", "key-one")
        )
        with_client_id = client.get("/messaging/v4", params=query(), headers=basic("key-one"))
        bad_client_id = client.get(
            "/messaging/v4",
            params=query(client_id="klarna_test_client_x"),
            headers=basic("key-one"),
        )
    body = assert_error(missing, 401, "UNAUTHORIZED")
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert "key-one" not in missing.text
    assert "key-one" not in body["error_messages"][0]
    assert_error(wrong, 401, "UNAUTHORIZED")
    assert_error(garbage, 401, "UNAUTHORIZED")
    assert as_username.status_code == 200
    assert as_password.status_code == 200
    assert with_client_id.status_code == 200
    assert_error(bad_client_id, 403, "FORBIDDEN")


def test_v4_custom_key_env(emulator_factory, monkeypatch):
    monkeypatch.setenv("MY_EMULATOR_KEYS", "secret-key")
    monkeypatch.delenv("OSM_EMULATOR_API_KEYS", raising=False)
    emulator = emulator_factory(api_key_env="MY_EMULATOR_KEYS")
    with client_for(emulator) as client:
        response = client.get(
            "/messaging/v4", params=query(client_id=CLIENT_ID), headers=basic("secret-key")
        )
    assert response.status_code == 200


def test_v4_no_keys_401(emulator_factory, monkeypatch):
    monkeypatch.delenv("OSM_EMULATOR_API_KEYS", raising=False)
    emulator = emulator_factory()
    with client_for(emulator) as client:
        response = client.get("/messaging/v4", params=query(), headers=basic(""))
    assert_error(response, 401, "UNAUTHORIZED")


def test_create_app_interface():
    app = create_app(EmulatorSettings(), public_base_url="https://cdn.example.test")

    async def fetch() -> dict:
        transport = httpx.ASGITransport(app=app)
        headers = {"User-Agent": "osm-build-tests/1.0"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://emulator", headers=headers
        ) as client:
            return (await client.get("/messaging/v3", params=query())).json()

    # A separate thread, because asyncio.run() fails where the main thread already runs an event
    # loop (Playwright's sync API leaves one running).
    with ThreadPoolExecutor(max_workers=1) as executor:
        body = executor.submit(asyncio.run, fetch()).result()
    assert body["impression_url"].startswith("https://cdn.example.test/__emulator/impression/")
    assert app.state.stats.snapshot()["by_status"] == {"200": 1}
    app.state.stats.reset()
    assert app.state.stats.snapshot()["requests"] == 0
