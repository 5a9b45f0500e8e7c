"""Payload parsing: price limits, generic product lists and bodies that sources must not send."""

from __future__ import annotations

import pytest

from osm_build.catalog.amounts import MAX_PURCHASE_AMOUNT
from osm_build.webhook.payloads import PayloadError, parse_payload
from osm_build.webhook.settings import WebhookSource

from tests.webhook.conftest import json_body, shopify_product

SHOPIFY = WebhookSource(name="shop", type="shopify", secret_env="UNUSED")
TOKEN = WebhookSource(name="cms", type="token", secret_env="UNUSED")
HMAC = WebhookSource(name="erp", type="hmac", secret_env="UNUSED", header="X-Signature")


def shopify(price: str):
    return parse_payload(SHOPIFY, "products/update", "application/json", json_body(shopify_product(price)))


@pytest.mark.parametrize("price", ["99999999999999999999999999.99", "9999999999999999.99", "10000000000.01"])
def test_shopify_price_over_maximum(price):
    with pytest.raises(PayloadError) as caught:
        shopify(price)
    message = str(caught.value)
    assert message.startswith(f"variants[0].price {price!r} is over the maximum price")
    assert str(MAX_PURCHASE_AMOUNT) in message


def test_shopify_price_at_maximum():
    change = shopify("10000000000.00")
    assert str(change.products[0].variants[0].price) == "10000000000.00"


@pytest.mark.parametrize(("price", "reason"), [
    ("abc", "is not a decimal price"),
    ("1e5", "is not a decimal price"),
    ("0", "is not a positive price"),
    ("-3.00", "is not a positive price"),
    ("0.001", "is less than one minor unit"),
])
def test_shopify_price_invalid(price, reason):
    with pytest.raises(PayloadError, match=reason) as caught:
        shopify(price)
    assert str(caught.value).startswith(f"variants[0].price {price!r}")


@pytest.mark.parametrize("source", [TOKEN, HMAC], ids=["token", "hmac"])
@pytest.mark.parametrize(("body", "reason"), [
    (b"hello", "the body is not valid JSON"),
    (b"\xff\xfe{}", "the body is not valid UTF-8"),
    (b"[1, 2]", "the body must be a JSON object, not an array"),
    (b'{"products": 5}', "products must be a list of ids or of objects with id, not a number"),
    (b'{"products": [{"id": {"a": 1}, "price": "abc"}]}', "products[0].id must be a non-empty string"),
    (b'{"products": ["58", {"id": "59", "price": "abc"}]}', "products[1].price 'abc' is not a decimal price"),
    (b'{"products": [{"title": "Belt"}]}', "products[0] has none of id, handle and sku"),
    (b'{"products": [true]}', "products[0] must be a product id or an object with id, not a boolean"),
    (b'{"products": [{"id": "58", "variant": [1]}]}', "products[0].variant must be a non-empty string"),
    (b'{"products": [{"id": "58", "price": 1e30}]}', "products[0].price '1e+30' is over the maximum"),
])
def test_generic_body_invalid(source, body, reason):
    with pytest.raises(PayloadError) as caught:
        parse_payload(source, None, "text/plain", body)
    assert str(caught.value).startswith(reason)


def test_generic_without_products_is_full():
    change = parse_payload(TOKEN, None, "application/json", b'{"event": "publish"}')
    assert change.full
    assert change.reason == "the body has no products list"


def test_generic_products_by_handle_and_sku():
    body = json_body({"products": ["58", 59, {"handle": "woo-belt", "price": 41}, {"sku": "cap-1", "variant": "red"}]})
    change = parse_payload(TOKEN, None, "application/json", body)
    assert not change.full
    assert [product.keys for product in change.products] == [("58",), ("59",), ("woo-belt",), ("cap-1",)]
    assert str(change.products[2].variants[0].price) == "41"
    assert change.products[3].variants == ()
