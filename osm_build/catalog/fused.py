"""Read and price a generic CSV export in one loop, caching the amounts of each price text.

When ``catalog.mapping`` names no column of the file besides id, price and title, and no market
has a ``price_column`` in it, a row's amounts depend on its price cell alone: the currency is
``catalog.currency`` and there is no sale. The loop here then keeps, per price text, the amount
of every market, and turns most rows into items without building an ``Offer``.

A new price text is parsed by ``Pricer.plain_amounts``, which returns None wherever the general
path would record a row error. A row takes the general path (``csv_row_offer`` and
``Pricer.price``, as other layouts do) when it is short, has no product id or has a price that is
not usable for every market. Net prices and prices in minor units always take it the first time
a price text occurs, because ``plain_amounts`` does not read them. A price text is cached only
once it priced every market without a row error, so both paths yield the same items and record
the same errors.
"""

from __future__ import annotations

from collections.abc import Iterator

from osm_build.catalog.context import ReadContext
from osm_build.catalog.generic import CsvLayout, csv_row_offer, mapped_csv_offers
from osm_build.catalog.model import PricedItem
from osm_build.catalog.pricing import Pricer
from osm_build.catalog.textfile import CsvFile, numbered_rows

# The cache is emptied when full, so memory stays flat on exports with many distinct prices.
MAX_CACHED_PRICES = 65536


def price_generic_csv(
    csv_file: CsvFile, context: ReadContext, pricer: Pricer, products: frozenset[str] | None = None
) -> Iterator[PricedItem]:
    """Yield the priced items of a generic CSV export, row by row.

    The loop for the plain layout is written out here, with no helper call or nested generator
    per cached row, because such calls would cost a large share of the time a cached row takes.
    """
    try:
        with csv_file.reader() as (header, reader):
            layout = CsvLayout(header, context.settings.mapping, csv_file.path)
            market_at = context.market_positions(header)
            if not layout.plain or market_at:
                for offer in mapped_csv_offers(layout, market_at, numbered_rows(reader), context):
                    if products is None or offer.product in products:
                        yield from pricer.price(offer)
                return

            product_at = layout.product_at
            price_at = layout.price_at
            title_at = layout.title_at
            variant_at = layout.variant_at
            sku_at = layout.sku_at
            market_count = len(pricer.markets)
            # Prices in minor units are read by the general path, which accepts only integers.
            parse_new_prices = not context.settings.mapping.price_in_minor_units
            plain_amounts = pricer.plain_amounts
            prefix = context.source_prefix
            new_item = tuple.__new__
            # Price text as written -> ((locale, amount), ...) for every market.
            amounts_by_text: dict[str, tuple[tuple[str, int], ...]] = {}
            cached_rows = 0
            other_rows = 0
            last_line = reader.line_num
            try:
                for row in reader:
                    line = last_line + 1
                    last_line = reader.line_num

                    # Rows with every mapped cell, a product id and a price usable in every market.
                    try:
                        text = row[price_at]
                        product = row[product_at].strip()
                        title = row[title_at].strip() if title_at is not None else ""
                        variant = (row[variant_at].strip() or None) if variant_at is not None else None
                        sku = (row[sku_at].strip() or None) if sku_at is not None else None
                    except IndexError:
                        product = ""
                    if products is not None and product not in products:
                        other_rows += 1
                        continue
                    if product:
                        try:
                            amounts = amounts_by_text[text]
                        except KeyError:
                            amounts = plain_amounts(text.strip()) if parse_new_prices else None
                            if amounts is not None:
                                if len(amounts_by_text) >= MAX_CACHED_PRICES:
                                    amounts_by_text.clear()
                                amounts_by_text[text] = amounts
                        if amounts is not None:
                            cached_rows += 1
                            source = f"{prefix}{line}"
                            for locale, amount in amounts:
                                yield new_item(PricedItem, (product, variant, title, locale, amount, source, sku, None))
                            continue

                    # Every other row: empty, short, without product id, or priced by the general path.
                    if not any(row):
                        continue
                    other_rows += 1
                    offer = csv_row_offer(layout, {}, line, row, context)
                    if offer is None:
                        continue
                    items = pricer.price(offer)
                    if market_count and len(items) == market_count:
                        if len(amounts_by_text) >= MAX_CACHED_PRICES:
                            amounts_by_text.clear()
                        amounts_by_text[row[price_at]] = tuple((item.locale, item.purchase_amount) for item in items)
                    yield from items
            finally:
                # Pricer.price counts the items of other rows itself.
                context.report.rows_read += cached_rows + other_rows
                context.report.items_priced += cached_rows * market_count
    finally:
        context.finish()
