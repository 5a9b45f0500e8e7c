"""Turn pending deliveries into one rebuild: which products, and which prices replace the catalog's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from osm_build.catalog.amounts import MAX_PURCHASE_AMOUNT, AmountError, to_minor_units
from osm_build.catalog.model import PricedItem
from osm_build.config import LoadedConfig
from osm_build.manifest import PublishedProducts
from osm_build.output import MANIFEST_NAME
from osm_build.publish import Publisher
from osm_build.webhook.journal import StoredDelivery, StoredPrice
from osm_build.webhook.payloads import PayloadError, ProductUpdate, VariantPrice, parse_payload
from osm_build.webhook.settings import WebhookSettings, WebhookSource

logger = logging.getLogger(__name__)

PriceKey = tuple[str, str, str]


@dataclass
class Rebuild:
    """The union of what some deliveries changed.

    Attributes:
        seqs: journal numbers of the deliveries this rebuild covers.
        full: True when some delivery changed something other than named products.
        products: product ids (and other identifiers such as handles and SKUs) to rebuild.
        prices: prices from payloads by (product, variant or "", locale); later deliveries win.
    """

    seqs: list[int] = field(default_factory=list)
    full: bool = False
    products: set[str] = field(default_factory=set)
    prices: dict[PriceKey, StoredPrice] = field(default_factory=dict)

    def describe(self) -> str:
        scope = "full rebuild" if self.full else f"{len(self.products)} product ids"
        return f"{len(self.seqs)} deliveries, {scope}, {len(self.prices)} prices from payloads"


def read_published_products(config: LoadedConfig) -> Mapping[str, list[dict]]:
    """Return the ``products`` section of the published manifest, or {} when there is none.

    The mapping parses a product's entries only when they are looked up.
    """
    settings = config.settings
    release = Publisher(config.resolve(settings.output.directory)).current()
    if release is None:
        return {}
    manifest = release / settings.output.assets_path / MANIFEST_NAME
    try:
        return PublishedProducts(manifest)
    except (OSError, ValueError) as error:
        logger.warning("Cannot read the published manifest %s (%s); product ids are not resolved", manifest, error)
        return {}


def plan_rebuild(
    deliveries: list[StoredDelivery], webhooks: WebhookSettings, config: LoadedConfig,
    published: Mapping[str, list[dict]],
) -> Rebuild:
    """Combine deliveries, oldest first, into one rebuild."""
    rebuild = Rebuild()
    for delivery in deliveries:
        rebuild.seqs.append(delivery.seq)
        source = webhooks.source(delivery.source)
        if source is None:
            logger.warning("Delivery %s came from source %r, which the config no longer lists; "
                           "rebuilding everything", delivery.delivery_id, delivery.source)
            rebuild.full = True
            continue
        try:
            change = parse_payload(source, delivery.topic, delivery.content_type, delivery.body)
        except PayloadError as error:
            # The server parsed the body before storing it, so only a changed config gets here.
            logger.warning("Skipped delivery %s from %s: %s", delivery.delivery_id, source.name, error)
            continue
        if change.full:
            logger.debug("Delivery %s from %s asks for a full rebuild: %s",
                         delivery.delivery_id, source.name, change.reason)
            rebuild.full = True
        # Handles and SKUs count only where the published site uses them as product ids.
        rebuild.products |= {identifier for identifier in change.identifiers if identifier in published}
        for product in change.products:
            product_id = _resolve_product(product, published)
            rebuild.products.add(product_id)
            origin = f"webhook {source.name} delivery {delivery.delivery_id}"
            for price in _prices(product, product_id, source, config, published, origin, delivery.received_at):
                rebuild.prices[(price.product, price.variant, price.locale)] = price
    return rebuild


def to_priced_items(prices: list[StoredPrice]) -> list[PricedItem]:
    """Convert stored prices into the catalog's item type for ``BuildOptions.price_overrides``."""
    return [
        PricedItem(product=p.product, variant=p.variant or None, title=p.title, locale=p.locale,
                   purchase_amount=p.purchase_amount, source=p.source, sku=p.sku)
        for p in prices
    ]


def catalog_mtime(config: LoadedConfig) -> float:
    """Return the catalog file's modification time, or 0 when it cannot be read."""
    try:
        return Path(config.resolve(config.settings.catalog.path)).stat().st_mtime
    except OSError:
        return 0.0


def _resolve_product(product: ProductUpdate, published: Mapping[str, list[dict]]) -> str:
    """Return the catalog product id that a payload names, by id, handle or variant."""
    for key in product.keys:
        if key in published:
            return key
    variant_keys = {key for variant in product.variants for key in _variant_candidates(variant)}
    if variant_keys:
        for product_id, entries in published.items():
            if any(entry.get("variant") in variant_keys for entry in entries):
                return product_id
    # Unknown to the published site: Shopify catalogs use the handle, which comes second.
    return product.keys[1] if len(product.keys) > 1 else product.keys[0]


def _variant_candidates(variant: VariantPrice) -> list[str]:
    candidates = [variant.sku, variant.variant_id, " / ".join(variant.options) if variant.options else None]
    return [candidate for candidate in candidates if candidate]


def _prices(
    product: ProductUpdate, product_id: str, source: WebhookSource, config: LoadedConfig,
    published: Mapping[str, list[dict]], origin: str, received_at: float,
) -> list[StoredPrice]:
    """Convert a product's payload prices into one price per variant and market."""
    if not product.variants:
        return []
    currency = _payload_currency(source, config)
    if currency is None:
        return []
    known = {entry.get("variant") for entry in published.get(product_id, [])}
    prices = []
    for variant in product.variants:
        variant_id = _catalog_variant(product, variant, known)
        if variant_id is False:
            logger.debug("No published variant of %s matches payload variant %s; the catalog price is used",
                         product_id, variant.variant_id or variant.sku)
            continue
        title = product.title if product.default_only or not variant.title else f"{product.title} - {variant.title}"
        for market in config.settings.markets:
            if market.currency != currency:
                continue
            amount = _market_amount(variant.price, currency, market, origin)
            if amount is None:
                continue
            prices.append(StoredPrice(product_id, variant_id or "", market.locale, amount, title,
                                      variant.sku, origin, received_at))
    return prices


def _catalog_variant(product: ProductUpdate, variant: VariantPrice, known: set) -> str | None | bool:
    """Return the catalog's variant id for a payload variant, None for no variant, False if unknown."""
    if not known:
        if product.default_only:
            return None
        return variant.sku or variant.variant_id or False
    if known == {None}:
        return None if len(product.variants) == 1 else False
    for candidate in _variant_candidates(variant):
        if candidate in known:
            return candidate
    return False


def _payload_currency(source: WebhookSource, config: LoadedConfig) -> str | None:
    if source.currency:
        return source.currency
    if config.settings.catalog.currency:
        return config.settings.catalog.currency
    currencies = {market.currency for market in config.settings.markets}
    if len(currencies) == 1:
        return currencies.pop()
    logger.warning("Source %s sends prices but its currency is unknown; set currency on the source. "
                   "The catalog prices are used", source.name)
    return None


def _market_amount(price: Decimal, currency: str, market, origin: str) -> int | None:
    try:
        amount = to_minor_units(price, currency)
    except AmountError as error:
        logger.warning("%s: price %s %s is not usable (%s)", origin, price, currency, error)
        return None
    if market.prices_include_tax:
        return amount
    if market.tax_rate_percent is None:
        logger.warning("%s: market %s has net prices and no tax_rate_percent; the catalog price is used",
                       origin, market.locale)
        return None
    gross = int((Decimal(amount) * (1 + market.tax_rate_percent / Decimal(100))).to_integral_value(ROUND_HALF_UP))
    if gross > MAX_PURCHASE_AMOUNT:
        logger.warning("%s: price %s %s with %s%% tax for market %s is over the maximum purchase amount "
                       "of %d minor units; the catalog price is used",
                       origin, price, currency, market.tax_rate_percent, market.locale, MAX_PURCHASE_AMOUNT)
        return None
    return gross
