"""``osm-build serve`` end to end: real HTTP, a real build against the emulator, real files."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from osm_build.webhook.cli import serve_command

from tests.webhook.conftest import (
    SHOPIFY_SECRET, TOKEN_SECRET, build_site, json_body, make_site, point_at, published_page, shopify_headers,
    shopify_product,
)


def credit_requests(emulator) -> list[dict]:
    return [entry for entry in emulator.stats()["requests_log"]
            if entry["placement_key"] == "credit-promotion-badge"]


def test_shopify_update_rebuilds_product(tmp_path, emulator_factory, server_factory):
    emulator = emulator_factory()
    config = make_site(tmp_path, emulator.base_url)
    build_site(config)
    assert 'data-osm-amount="5500"' in published_page(config)
    emulator.reset()
    server = server_factory(config)

    body = json_body(shopify_product("49.00"))
    response = server.post("shop", body, shopify_headers(body, "delivery-1"))
    assert response.status_code == 202
    health = server.wait_idle()

    assert health["last_build"]["error"] is None
    assert health["builds"] == 1
    page = published_page(config)
    assert 'data-osm-amount="4900"' in page
    assert 'data-osm-amount="5500"' not in page
    # The other products' responses are in the HTTP cache, so only the new amount is requested.
    amounts = {entry["purchase_amount"] for entry in credit_requests(emulator)}
    assert amounts == {4900}
    assert "Incremental build: 1 changed products" in server.log()


def test_rejections_build_nothing(tmp_path, emulator_factory, server_factory):
    emulator = emulator_factory()
    config = make_site(tmp_path, emulator.base_url)
    build_site(config)
    before = published_page(config)
    server = server_factory(config)
    body = json_body(shopify_product("41.00"))
    good = shopify_headers(body, "good-1")

    forged = shopify_headers(body, "forged-1", secret="not-the-secret")
    assert server.post("shop", body, forged).status_code == 401
    unsigned = {key: value for key, value in good.items() if key != "X-Shopify-Hmac-Sha256"}
    assert server.post("shop", body, unsigned).status_code == 401
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    stale = shopify_headers(body, "stale-1", **{"X-Shopify-Triggered-At": old})
    assert server.post("shop", body, stale).status_code == 401
    big = json_body({**shopify_product("41.00"), "body_html": "x" * 5000})
    assert server.post("shop", big, shopify_headers(big, "big-1")).status_code == 413
    text = {**good, "Content-Type": "text/plain", "X-Shopify-Webhook-Id": "text-1"}
    assert server.post("shop", body, text).status_code == 415
    not_json = b"<xml/>"
    assert server.post("shop", not_json, shopify_headers(not_json, "xml-1")).status_code == 400
    assert server.post("nope", body, good).status_code == 404
    assert server.client.get("/hooks/shop").status_code == 405
    assert server.client.put("/hooks/shop", content=body, headers=good).status_code == 405
    time.sleep(0.6)
    assert server.health()["builds"] == 0
    assert published_page(config) == before

    assert server.post("shop", body, good).status_code == 202
    assert server.post("shop", body, good).status_code == 200
    server.wait_idle()
    time.sleep(0.6)
    assert server.post("shop", body, good).status_code == 200
    time.sleep(0.6)
    assert server.health()["builds"] == 1
    log = server.log()
    assert "not-the-secret" not in log
    assert good["X-Shopify-Hmac-Sha256"] not in log
    assert log.count("Rejected delivery") == 7


def test_burst_coalesces_builds(tmp_path, emulator_factory, server_factory):
    emulator = emulator_factory()
    config = make_site(tmp_path, emulator.base_url, debounce_seconds=0.5)
    build_site(config)
    server = server_factory(config)

    started = time.monotonic()
    for number in range(100):
        body = json_body(shopify_product(f"{20 + number}.00"))
        assert server.post("shop", body, shopify_headers(body, f"burst-{number}")).status_code == 202
    assert time.monotonic() - started < 5
    health = server.wait_idle()
    time.sleep(0.8)

    assert server.health()["builds"] <= 2
    assert health["last_build"]["error"] is None
    assert 'data-osm-amount="11900"' in published_page(config)


def test_restart_after_kill_mid_build(tmp_path, emulator_factory, server_factory):
    config = make_site(tmp_path, emulator_factory().base_url, debounce_seconds=0)
    build_site(config)
    point_at(config, emulator_factory(latency_ms=1500).base_url)
    before = published_page(config)
    server = server_factory(config)

    body = json_body(shopify_product("133.00"))
    assert server.post("shop", body, shopify_headers(body, "crash-1")).status_code == 202
    deadline = time.monotonic() + 10
    while server.health()["builds"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.health()["builds"] == 1
    assert published_page(config) == before
    server.kill()
    assert published_page(config) == before

    restarted = server_factory(config)
    health = restarted.wait_idle()
    assert health["last_build"]["error"] is None
    assert 'data-osm-amount="13300"' in published_page(config)
    assert "1 deliveries are pending" in restarted.log()


@pytest.mark.parametrize("name", ["std", "cms"])
def test_generic_sources_accept(tmp_path, emulator_factory, server_factory, name):
    import base64
    import hashlib
    import hmac

    from tests.webhook.conftest import STANDARD_SECRET, TOKEN_SECRET

    emulator = emulator_factory()
    config = make_site(tmp_path, emulator.base_url)
    build_site(config)
    server = server_factory(config)
    body = json_body({"products": [{"id": "58", "price": "44.00"}]})
    if name == "std":
        stamp = str(int(time.time()))
        key = base64.b64decode(STANDARD_SECRET.removeprefix("whsec_"))
        digest = hmac.new(key, f"msg-1.{stamp}.".encode() + body, hashlib.sha256).digest()
        headers = {"webhook-id": "msg-1", "webhook-timestamp": stamp,
                   "webhook-signature": "v1," + base64.b64encode(digest).decode(),
                   "Content-Type": "application/json"}
    else:
        headers = {"Authorization": f"Bearer {TOKEN_SECRET}", "X-Request-Id": "req-1",
                   "Content-Type": "application/json"}
    assert server.post(name, body, headers).status_code == 202
    assert server.wait_idle()["last_build"]["error"] is None
    assert 'data-osm-amount="4400"' in published_page(config)


def test_serve_missing_secret(tmp_path):
    config = make_site(tmp_path, "http://127.0.0.1:9")
    env = {"TEST_SHOPIFY_SECRET": None, "TEST_STANDARD_SECRET": "whsec_c2VjcmV0", "TEST_TOKEN_SECRET": "t"}
    result = CliRunner().invoke(serve_command, ["-c", str(config), "--port", "0"], env=env)
    assert result.exit_code == 1
    assert "TEST_SHOPIFY_SECRET (webhooks source 'shop')" in result.output
    assert "c2VjcmV0" not in result.output


def test_huge_price_rejected(tmp_path, emulator_factory, server_factory):
    config = make_site(tmp_path, emulator_factory().base_url)
    build_site(config)
    server = server_factory(config)

    for number, price in enumerate(["99999999999999999999999999.99", "9999999999999999.99"]):
        body = json_body(shopify_product(price))
        response = server.post("shop", body, shopify_headers(body, f"huge-{number}"))
        assert response.status_code == 400
        assert "variants[0].price" in response.json()["error"]
        assert (f"Rejected delivery 'huge-{number}' from source shop: variants[0].price {price!r} "
                "is over the maximum price") in server.log()
    time.sleep(0.6)
    assert server.health()["builds"] == 0

    body = json_body(shopify_product("47.00"))
    assert server.post("shop", body, shopify_headers(body, "valid-1")).status_code == 202
    health = server.wait_idle()
    assert health["status"] == "ok"
    assert health["last_build"]["error"] is None
    assert 'data-osm-amount="4700"' in published_page(config)
    log = server.log()
    assert SHOPIFY_SECRET not in log
    assert '"variants"' not in log


def test_bad_signature_and_type(tmp_path, emulator_factory, server_factory):
    config = make_site(tmp_path, emulator_factory().base_url)
    server = server_factory(config)
    body = b"id=58&price=41.00"
    headers = shopify_headers(body, "form-1", secret="not-the-secret")
    headers["Content-Type"] = "application/x-www-form-urlencoded"

    response = server.post("shop", body, headers)
    assert response.status_code == 401
    assert response.json() == {"error": "signature mismatch"}
    assert ("Rejected delivery 'form-1' from source shop: signature mismatch, and content type "
            "'application/x-www-form-urlencoded' is not JSON (HTTP 401)") in server.log()


@pytest.mark.parametrize(("body", "reason"), [
    (b"hello", "the body is not valid JSON"),
    (b'{"products": 5}', "products must be a list"),
    (b"\xff\xfe\x00", "the body is not valid UTF-8"),
    (b'{"products":[{"id":{"a":1},"price":"abc"}]}', "products[0].id must be a non-empty string"),
])
def test_token_body_rejected(tmp_path, emulator_factory, server_factory, body, reason):
    config = make_site(tmp_path, emulator_factory().base_url)
    server = server_factory(config)
    headers = {"Authorization": f"Bearer {TOKEN_SECRET}", "X-Request-Id": "req-bad", "Content-Type": "text/plain"}

    response = server.post("cms", body, headers)
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason)
    assert f"Rejected delivery 'req-bad' from source cms: {reason}" in server.log()
    time.sleep(0.5)
    assert server.health()["builds"] == 0


def test_token_without_products_logged(tmp_path, emulator_factory, server_factory):
    config = make_site(tmp_path, emulator_factory().base_url)
    build_site(config)
    server = server_factory(config)
    headers = {"Authorization": f"Bearer {TOKEN_SECRET}", "X-Request-Id": "req-full",
               "Content-Type": "application/json"}

    assert server.post("cms", b'{"event": "publish"}', headers).status_code == 202
    assert server.wait_idle()["last_build"]["full"] is True
    assert "Delivery req-full from cms triggers a full rebuild: the body has no products list" in server.log()


def test_healthz_degraded_after_failed_build(tmp_path, emulator_factory, server_factory):
    config = make_site(tmp_path, emulator_factory().base_url)
    build_site(config)
    # An emulator that accepts no client id of the site returns 403 to every request, so every build fails.
    point_at(config, emulator_factory(client_ids=("00000000-0000-0000-0000-000000000000",)).base_url)
    server = server_factory(config)
    assert server.health()["status"] == "ok"

    body = json_body(shopify_product("43.00"))
    assert server.post("shop", body, shopify_headers(body, "denied-1")).status_code == 202
    # The build counter rises when a build starts; last_build is set when it ends.
    deadline = time.monotonic() + 15
    while server.health()["last_build"] is None and time.monotonic() < deadline:
        time.sleep(0.1)

    response = server.client.get("/healthz")
    assert response.status_code == 200
    health = response.json()
    assert health["status"] == "degraded"
    assert "403" in health["last_error"]
    assert health["last_build"]["error"] == health["last_error"]
    assert health["given_up"] == []
