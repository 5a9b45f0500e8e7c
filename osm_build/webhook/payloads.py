"""Read what a delivery changed: which products, and their new prices when the payload has them.

A payload is parsed only after its signature was checked. The shapes read:
- Shopify product webhooks (``products/create``, ``products/update``, ``products/delete``):
  ``id``, ``handle``, ``title`` and ``variants[]`` with ``id``, ``sku``, ``title``, ``option1-3``
  and ``price`` (a decimal string in the shop currency). Other topics change something that is not
  one product, so they ask for a full rebuild.
- Contentful entries: ``sys.id``, or the value at the source's ``product_field``. Asset and content
  type events ask for a full rebuild.
- Sanity projections: ``_id``, or the value at ``product_field``; anything else is a full rebuild.
- standard, hmac and token: ``{"products": [...]}`` whose items are ids or objects with ``id`` and
  optional ``variant`` and ``price``. Any other body is a full rebuild.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from osm_build.webhook.settings import WebhookSource

DEFAULT_VARIANT_TITLE = "Default Title"
JSON_REQUIRED = frozenset({"shopify", "contentful", "sanity", "standard"})


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
    if source.type in ("hmac", "token") and not is_json_type(content_type):
        return Change(full=True, reason="the body is not JSON")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
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
    if not isinstance(document, dict) or "products" not in document:
        return Change(full=True, reason="the body has no products list")
    items = document["products"]
    if not isinstance(items, list):
        raise PayloadError("products must be a list of ids or of objects with id")
    products = []
    for index, item in enumerate(items):
        if _is_id(item):
            products.append(ProductUpdate(keys=(str(item),)))
            continue
        if not isinstance(item, dict) or not _is_id(item.get("id")):
            raise PayloadError(f"products[{index}] is neither an id nor an object with id")
        variant = str(item["variant"]) if _is_id(item.get("variant")) else None
        price = _decimal(item.get("price"), f"products[{index}].price")
        variants = ()
        if price is not None:
            variants = (VariantPrice(variant, None, (), "", price),)
        products.append(ProductUpdate(keys=(str(item["id"]),), title=str(item.get("title") or ""),
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


def _decimal(value: Any, where: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise PayloadError(f"{where} is not a price")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PayloadError(f"{where} {str(value)[:20]!r} is not a decimal price") from None
    if not number.is_finite() or number <= 0:
        raise PayloadError(f"{where} {str(value)[:20]!r} is not a positive price")
    return number
