"""The catalog stage: read a catalog export and yield the price each market displays.

``read_catalog`` is the stage's one entry point. It recognises the export format, streams its
rows through the format's reader, and prices each product or variant per market (see
``osm_build.catalog.pricing`` for the market rules and ``osm_build.catalog.amounts`` for amount
parsing). Bad rows are counted in the ``CatalogReport`` and never stop the read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from osm_build.catalog.commercetools import read_commercetools
from osm_build.catalog.context import ReadContext
from osm_build.catalog.detect import SUPPORTED_FORMATS, detect_format
from osm_build.catalog.fused import price_generic_csv
from osm_build.catalog.generic import read_generic_json, read_generic_jsonl
from osm_build.catalog.google import read_google_csv, read_google_xml
from osm_build.catalog.magento import read_magento
from osm_build.catalog.model import CatalogReport, PricedItem, RowError
from osm_build.catalog.pricing import Offer, Pricer
from osm_build.catalog.settings import CatalogSettings, MarketSettings
from osm_build.catalog.shopify import read_shopify_csv, read_shopify_json
from osm_build.catalog.textfile import CsvFile, detect_encoding
from osm_build.catalog.woocommerce import read_woocommerce
from osm_build.errors import CatalogError

__all__ = [
    "SUPPORTED_FORMATS",
    "CatalogReport",
    "PricedItem",
    "RowError",
    "read_catalog",
]

logger = logging.getLogger("osm_build.catalog")

_CSV_READERS: dict[str, Callable[[CsvFile, ReadContext], Iterator[Offer]]] = {
    "woocommerce": read_woocommerce,
    "shopify": read_shopify_csv,
    "google-csv": read_google_csv,
    "magento": read_magento,
    "commercetools": read_commercetools,
}
_TEXT_READERS: dict[str, Callable[[Path, str, ReadContext], Iterator[Offer]]] = {
    "shopify-json": read_shopify_json,
    "json": read_generic_json,
    "jsonl": read_generic_jsonl,
}


def read_catalog(
    settings: CatalogSettings,
    markets: Sequence[MarketSettings],
    *,
    base_dir: Path,
    report: CatalogReport,
    now: datetime | None = None,
    products: frozenset[str] | None = None,
) -> Iterator[PricedItem]:
    """Read the catalog export and yield one priced item per product or variant and market.

    The file is opened and its format recognised before this returns; the rows are read as the
    caller iterates.

    Args:
        settings: the ``catalog`` section; ``settings.path`` is relative to ``base_dir``.
        markets: the markets to price for.
        base_dir: the folder of site_config.yaml.
        report: receives the format, row counts and row errors.
        now: build time for sale windows; defaults to the current time in UTC.
        products: when given, only these product ids are priced (an incremental build); rows of
            other products are read but neither priced nor checked.

    Raises:
        CatalogError: the file cannot be opened or read, or its format is not recognised.
    """
    path = settings.path if settings.path.is_absolute() else base_dir / settings.path
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    encoding = detect_encoding(path, settings.encoding)

    if settings.format == "auto":
        chosen = detect_format(path, encoding, settings)
        logger.info("Catalog %s: format auto chose %s (%s)", path.name, chosen, SUPPORTED_FORMATS[chosen])
    else:
        chosen = settings.format
    report.format = chosen

    market_columns = tuple(market.price_column for market in markets if market.price_column)
    context = ReadContext(path=path, settings=settings, report=report, now=now, market_columns=market_columns)
    pricer = Pricer(context, markets)
    if chosen == "csv":
        return price_generic_csv(CsvFile(path, encoding), context, pricer, products)
    if chosen in _CSV_READERS:
        offers = _CSV_READERS[chosen](CsvFile(path, encoding), context)
    elif chosen == "google-xml":
        offers = read_google_xml(path, context)
    elif chosen in _TEXT_READERS:
        offers = _TEXT_READERS[chosen](path, encoding, context)
    else:
        raise CatalogError(f"catalog.format {chosen!r} is not supported; use one of {', '.join(SUPPORTED_FORMATS)}.")
    return _priced(offers, pricer, context, products)


def _priced(
    offers: Iterator[Offer], pricer: Pricer, context: ReadContext, products: frozenset[str] | None
) -> Iterator[PricedItem]:
    price = pricer.price
    try:
        for offer in offers:
            if products is not None and offer.product not in products:
                continue
            items = price(offer)
            if items:
                yield from items
    finally:
        context.finish()
