"""Check webhook signatures over the raw request body, before the body is parsed.

Every scheme is an HMAC-SHA256 compared with ``hmac.compare_digest`` (or, for ``token``, a
constant-time comparison of the token). Each source may have two secrets while one is rotated; a
request passes when it matches either. Schemes that sign a timestamp reject one further than the
tolerance from now, so a captured request cannot be replayed later. A replay within the tolerance
carries a delivery id that the journal has already stored.

Scheme sources:
- Shopify: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC of the body.
- Contentful request verification (@contentful/node-apps-toolkit ``signRequest``): the hex HMAC
  of ``method\\npath\\nheaders\\nbody``, where headers are the signed headers, lower-cased, sorted by
  name, as ``name:value`` joined by ``;``, and always include ``x-contentful-signed-headers`` and
  ``x-contentful-timestamp`` (milliseconds).
- Sanity (@sanity/webhook): ``sanity-webhook-signature: t=<ms>,v1=<base64url HMAC of "<t>.<body>">``.
- Standard Webhooks: the base64 HMAC of ``"<webhook-id>.<webhook-timestamp>.<body>"`` keyed with
  the base64-decoded secret after ``whsec_``; ``webhook-signature`` lists ``v1,<sig>`` entries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from osm_build.errors import OsmBuildError
from osm_build.webhook.settings import WebhookSource

_SANITY_HEADER = re.compile(r"^t=(\d+)[, ]+v1=([^, ]+)$")
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_FRACTION = re.compile(r"(\.\d{6})\d+")
# Characters that JavaScript's encodeURI leaves alone, which Contentful applies to the path.
_ENCODE_URI_SAFE = ";,/?:@&=+$-_.!~*'()#"


class VerificationError(Exception):
    """Raised when a request is not signed by the source; the text is safe to log."""


@dataclass(frozen=True)
class DeliveryInfo:
    """Delivery details read from the verified headers.

    Attributes:
        delivery_id: the sender's id of the delivery, or a stand-in derived from the signature.
        topic: the event name, when the sender sends one.
        signed_at: the signed or sent time in seconds since the epoch, when the sender sends one.
    """

    delivery_id: str
    topic: str | None = None
    signed_at: float | None = None


def prepare_secrets(source: WebhookSource, raw_secrets: Sequence[bytes]) -> tuple[bytes, ...]:
    """Turn the secrets from the environment into HMAC keys; Standard Webhooks keys are base64.

    Raises:
        OsmBuildError: when a Standard Webhooks secret is not base64 (the value is not shown).
    """
    if source.type != "standard":
        return tuple(raw_secrets)
    keys = []
    for raw in raw_secrets:
        text = raw.decode("utf-8").strip().removeprefix("whsec_")
        try:
            keys.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError):
            raise OsmBuildError(
                f"The secret of webhooks source {source.name!r} (from {source.secret_env} or "
                f"{source.secret_env_previous}) is not a Standard Webhooks secret: it must be "
                "'whsec_' followed by base64."
            ) from None
    return tuple(keys)


def verify_request(
    source: WebhookSource,
    keys: Sequence[bytes],
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance_seconds: float,
    now: float | None = None,
) -> DeliveryInfo:
    """Check a request's signature with each key of ``source`` and return its delivery details.

    Args:
        headers: the request headers; lookups must be case-insensitive (Starlette ``Headers``
            or a dict with lower-case names).
        path: the request path as sent, with the query string if there is one.

    Raises:
        VerificationError: the signature or token is missing or wrong, or the signed timestamp
            is further than ``tolerance_seconds`` from ``now``.
    """
    now = time.time() if now is None else now
    lowered = _CaseInsensitive(headers)
    checkers = {
        "shopify": _verify_shopify,
        "contentful": _verify_contentful,
        "sanity": _verify_sanity,
        "standard": _verify_standard,
        "hmac": _verify_hmac,
        "token": _verify_token,
    }
    info = checkers[source.type](source, keys, method, path, lowered, body)
    if info.signed_at is not None and abs(now - info.signed_at) > tolerance_seconds:
        raise VerificationError(
            f"timestamp is {now - info.signed_at:.0f} s from now, more than {tolerance_seconds:g} s"
        )
    return info


class _CaseInsensitive:
    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = {name.lower(): value for name, value in headers.items()}

    def get(self, name: str) -> str | None:
        return self._headers.get(name.lower())

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise VerificationError(f"missing {name} header")
        return value


def _digest(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _any_match(keys: Sequence[bytes], message: bytes, matches) -> bool:
    """Return whether ``matches(digest)`` holds for the digest of any key; every key is tried."""
    found = False
    for key in keys:
        found |= matches(_digest(key, message))
    return found


def _stand_in_id(signature: str) -> str:
    """Derive a delivery id from a signature: equal only for a replay of the same signed request."""
    return "sig-" + hashlib.sha256(signature.encode("utf-8")).hexdigest()[:32]


def _verify_shopify(source, keys, method, path, headers, body) -> DeliveryInfo:
    signature = headers.require("X-Shopify-Hmac-Sha256").strip()
    try:
        expected = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError("X-Shopify-Hmac-Sha256 is not base64") from None
    if not _any_match(keys, body, lambda digest: hmac.compare_digest(digest, expected)):
        raise VerificationError("signature mismatch")

    signed_at = None
    triggered = headers.get("X-Shopify-Triggered-At")
    if triggered:
        signed_at = _parse_iso_time(triggered)
    delivery_id = headers.get("X-Shopify-Webhook-Id") or _stand_in_id(signature)
    return DeliveryInfo(delivery_id=delivery_id, topic=headers.get("X-Shopify-Topic"), signed_at=signed_at)


def _parse_iso_time(text: str) -> float:
    # Shopify sends nanoseconds ("2023-03-29T18:00:27.877041743Z"); datetime keeps microseconds.
    cleaned = _FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(cleaned)
    except ValueError:
        raise VerificationError(f"X-Shopify-Triggered-At {text[:40]!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise VerificationError(f"X-Shopify-Triggered-At {text[:40]!r} has no time zone")
    return value.timestamp()


def _verify_contentful(source, keys, method, path, headers, body) -> DeliveryInfo:
    signature = headers.require("x-contentful-signature").strip().lower()
    signed_list = headers.require("x-contentful-signed-headers")
    timestamp_text = headers.require("x-contentful-timestamp").strip()
    if not timestamp_text.isdigit():
        raise VerificationError("x-contentful-timestamp is not a number of milliseconds")

    signed = {}
    for name in (part.strip().lower() for part in signed_list.split(",")):
        if not name:
            continue
        value = headers.get(name)
        if value is None:
            raise VerificationError(f"signed header {name} is missing from the request")
        signed[name] = value.strip()
    signed["x-contentful-timestamp"] = timestamp_text
    signed["x-contentful-signed-headers"] = ",".join(sorted(set(signed)))
    canonical_headers = ";".join(f"{name}:{value}" for name, value in sorted(signed.items()))
    canonical = "\n".join([method.upper(), quote(path, safe=_ENCODE_URI_SAFE), canonical_headers])
    message = canonical.encode("utf-8") + b"\n" + body

    if not _any_match(keys, message, lambda digest: hmac.compare_digest(digest.hex(), signature)):
        raise VerificationError("signature mismatch")
    topic = headers.get("X-Contentful-Topic")
    return DeliveryInfo(_stand_in_id(signature), topic=topic, signed_at=int(timestamp_text) / 1000)


def _verify_sanity(source, keys, method, path, headers, body) -> DeliveryInfo:
    header = headers.require("sanity-webhook-signature").strip()
    match = _SANITY_HEADER.match(header)
    if match is None:
        raise VerificationError("sanity-webhook-signature is not 't=<ms>,v1=<signature>'")
    timestamp_text, signature = match.groups()
    message = timestamp_text.encode("ascii") + b"." + body
    expected_signature = signature.rstrip("=").encode("ascii")

    def matches(digest: bytes) -> bool:
        return hmac.compare_digest(base64.urlsafe_b64encode(digest).rstrip(b"="), expected_signature)

    if not _any_match(keys, message, matches):
        raise VerificationError("signature mismatch")
    delivery_id = headers.get("idempotency-key") or _stand_in_id(header)
    return DeliveryInfo(delivery_id, topic=headers.get("sanity-operation"), signed_at=int(timestamp_text) / 1000)


def _verify_standard(source, keys, method, path, headers, body) -> DeliveryInfo:
    delivery_id = headers.require("webhook-id").strip()
    timestamp_text = headers.require("webhook-timestamp").strip()
    signatures = headers.require("webhook-signature")
    if not timestamp_text.isdigit():
        raise VerificationError("webhook-timestamp is not a number of seconds")
    message = f"{delivery_id}.{timestamp_text}.".encode("utf-8") + body

    offered = []
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version == "v1" and value:
            offered.append(value.encode("ascii", "replace"))
    if not offered:
        raise VerificationError("webhook-signature has no v1 signature")

    def matches(digest: bytes) -> bool:
        encoded = base64.b64encode(digest)
        found = False
        for value in offered:
            found |= hmac.compare_digest(encoded, value)
        return found

    if not _any_match(keys, message, matches):
        raise VerificationError("signature mismatch")
    return DeliveryInfo(delivery_id, signed_at=float(timestamp_text))


def _verify_hmac(source, keys, method, path, headers, body) -> DeliveryInfo:
    signature = headers.require(source.header).strip()
    value = signature.removeprefix("sha256=")

    def matches(digest: bytes) -> bool:
        if _HEX_SHA256.match(value):
            return hmac.compare_digest(digest.hex(), value.lower())
        return hmac.compare_digest(base64.b64encode(digest), value.encode("ascii", "replace"))

    if not _any_match(keys, body, matches):
        raise VerificationError("signature mismatch")
    return DeliveryInfo(_sender_id(source, headers))


def _verify_token(source, keys, method, path, headers, body) -> DeliveryInfo:
    value = headers.require(source.token_header).strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer" and rest:
        value = rest.strip()
    offered = value.encode("utf-8")
    found = False
    for key in keys:
        found |= hmac.compare_digest(key, offered)
    if not found:
        raise VerificationError("token mismatch")
    return DeliveryInfo(_sender_id(source, headers))


def _sender_id(source: WebhookSource, headers: _CaseInsensitive) -> str:
    if source.id_header:
        sent = headers.get(source.id_header)
        if sent:
            return sent.strip()
    # NOTE: without id_header an unsigned-time scheme cannot tell a replay from a new delivery,
    # so every request counts as new.
    return f"new-{uuid.uuid4().hex}"
