"""Read what a delivery changed: which products, and their new prices when the payload has them.

A payload is parsed only after its signature was checked. The shapes read:
- Shopify product webhooks (``products/create``, ``products/update``, ``products/delete``):
  ``id``, ``handle``, ``title`` and ``variants[]`` with ``id``, ``sku``, ``title``, ``option1-3``
  and ``price`` (a decimal string in the shop currency). Other topics change something that is not
  one product, so they ask for a full rebuild.
- Contentful entries: ``sys.id``, or the value at the source's ``product_field``. Asset and content
  type events ask for a full rebuild.
- Sanity projections: ``_id``, or the value at ``product_field``; anything else is a full rebuild.
- standard, hmac and token: a JSON object. Its optional ``products`` list has ids, or objects
  with at least one of ``id``, ``handle`` and ``sku`` and optional ``variant``, ``title`` and
  ``price``. An object without ``products`` is a full rebuild. Any other body is rejected.

Every price must be a positive decimal (a JSON number or a string such as ``"49.00"``) whose
amount in minor units is at most ``MAX_PURCHASE_AMOUNT``. Each currency that OSM serves has two
minor digits, so the check multiplies by 100 before the payload currency is known.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from osm_build.catalog.amounts import MAX_PURCHASE_AMOUNT
from osm_build.webhook.settings import WebhookSource

DEFAULT_VARIANT_TITLE = "Default Title"
JSON_REQUIRED = frozenset({"shopify", "contentful", "sanity", "standard"})

PRICE_MINOR_DIGITS = 2
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# Characters of a rejected value that an error message repeats.
SHOWN_VALUE_CHARS = 40


class PayloadError(Exception):
    """Raised when a body is not what the source sends; the text names the problem, not the body."""


@dataclass(frozen=True)
class VariantPrice:
    """One variant's price as the payload states it, in major units of the payload currency."""

    variant_id: str | None
    sku: str | None
    options: tuple[str, ...]
    title: str
    price: Decimal


@dataclass(frozen=True)
class ProductUpdate:
    """A product named by a payload, with the variant prices it carries (maybe none)."""

    keys: tuple[str, ...]
    title: str = ""
    variants: tuple[VariantPrice, ...] = ()
    default_only: bool = False


@dataclass
class Change:
    """The change one delivery makes: a full rebuild, or some products."""

    full: bool = False
    reason: str = ""
    products: list[ProductUpdate] = field(default_factory=list)

    @property
    def identifiers(self) -> set[str]:
        return {key for product in self.products for key in product.keys} | {
            variant.sku for product in self.products for variant in product.variants if variant.sku
        }


def is_json_type(content_type: str) -> bool:
    """Return whether a Content-Type header names JSON (``application/json`` or ``+json``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def parse_payload(source: WebhookSource, topic: str | None, content_type: str, body: bytes) -> Change:
    """Read what a verified delivery changed.

    Raises:
        PayloadError: the body is not JSON where the source sends JSON, or has the wrong shape.
    """
    try:
        # RFC 8259 requires UTF-8 between systems, but json.loads would also read bytes as UTF-16 or UTF-32.
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise PayloadError(f"the body is not valid UTF-8 (invalid byte at position {error.start})") from None
    except ValueError as error:
        raise PayloadError(f"the body is not valid JSON ({type(error).__name__} at position "
                           f"{getattr(error, 'pos', '?')})") from None

    if source.type == "shopify":
        return _parse_shopify(topic, document)
    if source.type == "contentful":
        return _parse_contentful(source, topic, document)
    if source.type == "sanity":
        return _parse_sanity(source, document)
    return _parse_product_list(document)


def _parse_shopify(topic: str | None, document: Any) -> Change:
    if not isinstance(document, dict):
        raise PayloadError("a Shopify webhook body must be a JSON object")
    is_product_topic = topic is not None and topic.startswith("products/")
    if topic is None and isinstance(document.get("variants"), list):
        is_product_topic = True
    if not is_product_topic:
        return Change(full=True, reason=f"Shopify topic {topic!r} is not a product event")
    if not _is_id(document.get("id")):
        raise PayloadError(f"Shopify {topic or 'product'} body has no product id")

    keys = [str(document["id"])]
    if isinstance(document.get("handle"), str) and document["handle"]:
        keys.append(document["handle"])
    variants_value = document.get("variants", [])
    if not isinstance(variants_value, list):
        raise PayloadError("Shopify product body: variants is not a list")
    variants = []
    for index, variant in enumerate(variants_value):
        if not isinstance(variant, dict):
            raise PayloadError(f"Shopify product body: variants[{index}] is not an object")
        price = _decimal(variant.get("price"), f"variants[{index}].price")
        if price is None:
            continue
        options = tuple(str(variant[name]) for name in ("option1", "option2", "option3") if variant.get(name))
        variants.append(VariantPrice(
            variant_id=str(variant["id"]) if _is_id(variant.get("id")) else None,
            sku=str(variant.get("sku") or "") or None,
            options=options,
            title=str(variant.get("title") or ""),
            price=price,
        ))
    default_only = len(variants_value) == 1 and str(variants_value[0].get("title") or "") in ("", DEFAULT_VARIANT_TITLE)
    product = ProductUpdate(
        keys=tuple(keys), title=str(document.get("title") or ""), variants=tuple(variants), default_only=default_only
    )
    return Change(products=[product])


def _parse_contentful(source: WebhookSource, topic: str | None, document: Any) -> Change:
    if not isinstance(document, dict) or not isinstance(document.get("sys"), dict):
        raise PayloadError("a Contentful webhook body must be an object with sys")
    kind = str(document["sys"].get("type") or "")
    if (topic and ".Entry." not in topic) or (kind and "Entry" not in kind):
        return Change(full=True, reason=f"Contentful event {topic or kind!r} is not about an entry")
    keys = _field_values(document, source.product_field) if source.product_field else []
    if not keys and _is_id(document["sys"].get("id")):
        keys = [str(document["sys"]["id"])]
    if not keys:
        raise PayloadError("Contentful entry body has no sys.id")
    return Change(products=[ProductUpdate(keys=tuple(keys))])


def _parse_sanity(source: WebhookSource, document: Any) -> Change:
    if not isinstance(document, dict):
        return Change(full=True, reason="the Sanity projection is not an object")
    keys = _field_values(document, source.product_field) if source.product_field else []
    if not keys and _is_id(document.get("_id")):
        keys = [str(document["_id"])]
    if not keys:
        return Change(full=True, reason="the Sanity projection names no document")
    return Change(products=[ProductUpdate(keys=tuple(keys))])


def _parse_product_list(document: Any) -> Change:
    if not isinstance(document, dict):
        raise PayloadError(f"the body must be a JSON object, not {_json_type(document)}")
    if "products" not in document:
        return Change(full=True, reason="the body has no products list")
    items = document["products"]
    if not isinstance(items, list):
        raise PayloadError(f"products must be a list of ids or of objects with id, not {_json_type(items)}")
    products = []
    for index, item in enumerate(items):
        where = f"products[{index}]"
        if _is_id(item):
            products.append(ProductUpdate(keys=(str(item),)))
            continue
        if not isinstance(item, dict):
            raise PayloadError(f"{where} must be a product id or an object with id, not {_json_type(item)}")
        keys = []
        for name in ("id", "handle", "sku"):
            if item.get(name) is None:
                continue
            if not _is_id(item[name]):
                raise PayloadError(f"{where}.{name} must be a non-empty string or an integer, "
                                   f"not {_json_type(item[name])}")
            keys.append(str(item[name]))
        if not keys:
            raise PayloadError(f"{where} has none of id, handle and sku")
        variant = item.get("variant")
        if variant is not None and not _is_id(variant):
            raise PayloadError(f"{where}.variant must be a non-empty string or an integer, not {_json_type(variant)}")
        price = _decimal(item.get("price"), f"{where}.price")
        variants = ()
        if price is not None:
            variant_id = str(variant) if variant is not None else None
            variants = (VariantPrice(variant_id, None, (), "", price),)
        products.append(ProductUpdate(keys=tuple(keys), title=str(item.get("title") or ""),
                                      variants=variants, default_only=variant is None))
    return Change(products=products)


def _field_values(document: dict, path: str) -> list[str]:
    """Return the id or ids at a dotted path such as ``fields.productId.en-US``."""
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return []
        value = value[part]
    values = value if isinstance(value, list) else [value]
    return [str(item) for item in values if _is_id(item)]


def _is_id(value: Any) -> bool:
    return (isinstance(value, str) and value.strip() != "") or (isinstance(value, int) and not isinstance(value, bool))


def _json_type(value: Any) -> str:
    """Return the JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _decimal(value: Any, where: str) -> Decimal | None:
    """Return a payload price, or None when it is missing or empty.

    Raises:
        PayloadError: naming ``where`` and the value, when the price is not a positive decimal
            or is over ``MAX_PURCHASE_AMOUNT`` minor units.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadError(f"{where} must be a decimal price such as \"49.00\", not {_json_type(value)}")
    text = value.strip() if isinstance(value, str) else str(value)
    quoted_value = text[:SHOWN_VALUE_CHARS]
    if isinstance(value, str) and not _PLAIN_DECIMAL.fullmatch(text):
        raise PayloadError(f"{where} {quoted_value!r} is not a decimal price such as \"49.00\"")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PayloadError(f"{where} {quoted_value!r} is not a decimal price such as \"49.00\"") from None
    if not number.is_finite() or number <= 0:
        raise PayloadError(f"{where} {quoted_value!r} is not a positive price")
    limit = Decimal(MAX_PURCHASE_AMOUNT).scaleb(-PRICE_MINOR_DIGITS)
    if number > limit:
        raise PayloadError(f"{where} {quoted_value!r} is over the maximum price of {limit:.{PRICE_MINOR_DIGITS}f} "
                           f"({MAX_PURCHASE_AMOUNT} minor units)")
    if number.scaleb(PRICE_MINOR_DIGITS).to_integral_value(ROUND_HALF_UP) < 1:
        raise PayloadError(f"{where} {quoted_value!r} is less than one minor unit")
    return number
