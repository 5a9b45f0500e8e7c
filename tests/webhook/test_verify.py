"""Signature schemes: valid, invalid and rotated secrets, stale timestamps, each without a server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from osm_build.errors import OsmBuildError
from osm_build.webhook.settings import WebhookSource
from osm_build.webhook.verify import VerificationError, prepare_secrets, verify_request

BODY = b'{"id": 58, "title": "Belt"}'
NEW = b"new-secret"
OLD = b"old-secret"


def source(kind: str, **fields) -> WebhookSource:
    return WebhookSource(name="test", type=kind, secret_env="UNUSED", **fields)


def check(kind: str, headers: dict, keys=(NEW,), body: bytes = BODY, path: str = "/hooks/test", **fields):
    return verify_request(source(kind, **fields), keys, method="POST", path=path, headers=headers,
                          body=body, tolerance_seconds=300)


def sign(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def shopify(key: bytes) -> dict:
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(sign(key, BODY)).decode(), "X-Shopify-Webhook-Id": "d-1",
            "X-Shopify-Topic": "products/update"}


def sanity(key: bytes, stamp: int | None = None) -> dict:
    stamp = stamp or int(time.time() * 1000)
    value = base64.urlsafe_b64encode(sign(key, f"{stamp}.".encode() + BODY)).rstrip(b"=").decode()
    return {"sanity-webhook-signature": f"t={stamp},v1={value}"}


def standard(key: bytes, stamp: int | None = None) -> dict:
    stamp = stamp or int(time.time())
    value = base64.b64encode(sign(key, f"msg-1.{stamp}.".encode() + BODY)).decode()
    return {"webhook-id": "msg-1", "webhook-timestamp": str(stamp), "webhook-signature": f"v1,bm90aGluZw== v1,{value}"}


def contentful(key: bytes, stamp: int | None = None) -> dict:
    stamp = stamp or int(time.time() * 1000)
    signed = "content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic"
    headers = {"content-type": "application/vnd.contentful.management.v1+json",
               "x-contentful-topic": "ContentManagement.Entry.publish",
               "x-contentful-timestamp": str(stamp), "x-contentful-signed-headers": signed}
    canonical_headers = ";".join(f"{name}:{headers[name]}" for name in sorted(headers))
    message = f"POST\n/hooks/test\n{canonical_headers}\n".encode() + BODY
    return {**headers, "x-contentful-signature": sign(key, message).hex()}


SCHEMES = {
    "shopify": (shopify, {}),
    "sanity": (sanity, {}),
    "standard": (standard, {}),
    "contentful": (contentful, {}),
    "hmac": (lambda key: {"X-Signature": "sha256=" + sign(key, BODY).hex()}, {"header": "X-Signature"}),
    "token": (lambda key: {"Authorization": f"Bearer {key.decode()}"}, {}),
}


def keys_for(kind: str, *raw: bytes) -> tuple[bytes, ...]:
    return prepare_secrets(source(kind, **SCHEMES[kind][1]), raw)


def raw_secret(kind: str, key: bytes) -> bytes:
    return b"whsec_" + base64.b64encode(key) if kind == "standard" else key


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_scheme_valid(kind):
    make, fields = SCHEMES[kind]
    info = check(kind, make(NEW), keys=keys_for(kind, raw_secret(kind, NEW)), **fields)
    assert info.delivery_id


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_scheme_wrong_secret(kind):
    make, fields = SCHEMES[kind]
    with pytest.raises(VerificationError, match="mismatch"):
        check(kind, make(b"forged-secret"), keys=keys_for(kind, raw_secret(kind, NEW)), **fields)


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_scheme_previous_secret(kind):
    make, fields = SCHEMES[kind]
    keys = keys_for(kind, raw_secret(kind, NEW), raw_secret(kind, OLD))
    assert check(kind, make(OLD), keys=keys, **fields).delivery_id


@pytest.mark.parametrize("kind", ["shopify", "sanity", "standard", "contentful", "hmac"])
def test_scheme_changed_body(kind):
    make, fields = SCHEMES[kind]
    with pytest.raises(VerificationError, match="mismatch"):
        check(kind, make(NEW), keys=keys_for(kind, raw_secret(kind, NEW)), body=BODY + b" ", **fields)


@pytest.mark.parametrize("kind", sorted(SCHEMES))
def test_scheme_missing_header(kind):
    with pytest.raises(VerificationError, match="missing"):
        check(kind, {}, keys=keys_for(kind, raw_secret(kind, NEW)), **SCHEMES[kind][1])


@pytest.mark.parametrize("kind,scale", [("sanity", 1000), ("standard", 1), ("contentful", 1000)])
def test_scheme_stale_timestamp(kind, scale):
    make, _ = SCHEMES[kind]
    headers = make(NEW, int((time.time() - 600) * scale))
    with pytest.raises(VerificationError, match="timestamp"):
        check(kind, headers, keys=keys_for(kind, raw_secret(kind, NEW)))


def test_shopify_stale_triggered_at():
    old = time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z", time.gmtime(time.time() - 3600))
    with pytest.raises(VerificationError, match="timestamp"):
        check("shopify", {**shopify(NEW), "X-Shopify-Triggered-At": old})


def test_hmac_base64_signature():
    headers = {"X-Signature": base64.b64encode(sign(NEW, BODY)).decode()}
    assert check("hmac", headers, header="X-Signature").delivery_id.startswith("new-")


def test_contentful_unsigned_header_change():
    headers = contentful(NEW)
    headers["x-contentful-topic"] = "ContentManagement.Entry.delete"
    with pytest.raises(VerificationError, match="mismatch"):
        check("contentful", headers)


def test_sanity_replay_same_id():
    headers = sanity(NEW)
    assert check("sanity", headers).delivery_id == check("sanity", headers).delivery_id


def test_standard_secret_not_base64():
    with pytest.raises(OsmBuildError, match="not a Standard Webhooks secret"):
        prepare_secrets(source("standard"), [b"whsec_***"])


def test_hmac_source_needs_header():
    with pytest.raises(ValueError, match="no header"):
        source("hmac")
