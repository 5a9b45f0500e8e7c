"""Read commercetools product CSV (the format of the commercetools product CSV sync tools).

A row with ``productType`` starts a product; the rows after it without one are its further
variants. The product id is the ``key`` column, else ``id``, else the first ``slug.*`` value, else
the first variant's SKU. The variant id is ``variantId``.

``prices`` lists several prices in one cell, separated by ``;``. Each is
``[COUNTRY-]CURRENCY AMOUNT[ CUSTOMER_GROUP][#CHANNEL]`` with the amount in minor units, for
example ``EUR 18750;US-USD 18750;DE-EUR 15000;EUR 12295 b2b;DE-EUR 15450#store-berlin``. The
market decides which price applies (see ``osm_build.catalog.pricing``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from osm_build.catalog.context import ReadContext, parse_flag
from osm_build.catalog.pricing import Offer, ScopedPrice
from osm_build.catalog.textfile import Columns, CsvFile, cell
from osm_build.errors import CatalogError

_PRICE = re.compile(
    r"(?:(?P<country>[A-Z]{2})-)?(?P<currency>[A-Z]{3})\s+(?P<amount>-?\d+)"
    r"(?:\s+(?P<group>[^#\s]+))?(?:\s*#(?P<channel>\S+))?"
)


def read_commercetools(csv_file: CsvFile, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per variant of a commercetools product CSV."""
    include_unpublished = context.settings.include_unpublished
    with csv_file.rows() as (header, rows):
        columns = Columns(header)
        type_col = columns.find("productType")
        prices_col = columns.find("prices")
        if type_col is None or prices_col is None:
            raise CatalogError(
                f"{csv_file.path} is not a commercetools product CSV: the header needs "
                "'productType' and 'prices'."
            )
        key_col = columns.find("key")
        id_col = columns.find("id")
        slug_col = next((i for i, name in enumerate(header) if name.lower().startswith("slug")), None)
        name_col = columns.find("name.en", "name")
        if name_col is None:
            name_col = next((i for i, name in enumerate(header) if name.lower().startswith("name.")), None)
        variant_col = columns.find("variantId")
        sku_col = columns.find("sku")
        publish_col = columns.find("publish", "published")

        product = ""
        title = ""
        on_sale = True
        for line, row in rows:
            context.report.rows_read += 1
            sku = cell(row, sku_col) or None
            if cell(row, type_col):
                product = cell(row, key_col) or cell(row, id_col) or cell(row, slug_col) or (sku or "")
                title = cell(row, name_col)
                on_sale = parse_flag(cell(row, publish_col)) is not False
            if not product:
                context.skip(line, "productType", "", "variant row before any product row", "missing id")
                continue
            if not on_sale and not include_unpublished:
                context.exclude(line, f"product {product} is not published")
                continue
            prices = _scoped_prices(cell(row, prices_col), line, context)
            if prices is None:
                continue
            yield Offer(
                product=product,
                variant=cell(row, variant_col) or sku,
                title=title,
                line=line,
                sku=sku,
                scoped_prices=prices,
                scoped_field=columns.name(prices_col) or "prices",
            )


def _scoped_prices(text: str, line: int, context: ReadContext) -> list[ScopedPrice] | None:
    """Parse a ``prices`` cell; None after a row error."""
    prices = []
    for entry in text.split(";"):
        entry = entry.strip()
        if not entry:
            continue
        match = _PRICE.fullmatch(entry)
        if match is None:
            context.skip(
                line,
                "prices",
                entry,
                "invalid price: expected [COUNTRY-]CURRENCY AMOUNT[ GROUP][#CHANNEL], such as DE-EUR 15000",
                "invalid price",
            )
            return None
        amount = int(match["amount"])
        if amount <= 0:
            key = "zero price" if amount == 0 else "negative price"
            context.skip(line, "prices", entry, f"{key}: {entry!r}", key)
            return None
        prices.append(
            ScopedPrice(
                currency=match["currency"],
                minor_units=amount,
                country=match["country"],
                customer_group=match["group"],
                channel=match["channel"],
            )
        )
    return prices
