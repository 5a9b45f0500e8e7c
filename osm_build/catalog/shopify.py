"""Read Shopify product exports: the products CSV and the product JSON object.

CSV: a product spans consecutive rows with the same handle. Its first row carries the product
fields (title, ``Published``, ``Status``, option names). The next rows carry only variant fields,
or only an image (no price, no option value, no SKU), and image-only rows are passed over. Both the column set
of the admin export (``Handle``, ``Variant Price``, ``Variant Compare At Price``) and the newer
names (``URL handle``, ``Price``, ``Compare-at price``) are read; ``Status`` is missing in older
files. The variant id is the variant SKU, or the option values when there is no SKU; a
``Default Title`` product has no variant.

``Variant Compare At Price`` is the old price shown struck through: the displayed price is always
``Variant Price``. Per-market columns such as ``Price / United States`` feed markets that name
them in ``price_column``; ``Included / United States`` = FALSE means no item for that market.

JSON: a theme's ``product`` object, ``{"product": ...}`` or ``{"products": [...]}``. Integer
amounts are minor units already (``"price": 52000`` is 520.00); string amounts, as the Admin API
writes them (``"520.00"``), are major units.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from osm_build.catalog.context import ReadContext, parse_flag
from osm_build.catalog.pricing import Offer
from osm_build.catalog.textfile import Columns, CsvFile, cell, load_json
from osm_build.errors import CatalogError

_DEFAULT_TITLE = "Default Title"
_OFF_SALE_STATUSES = frozenset({"draft", "archived", "unlisted"})


def read_shopify_csv(csv_file: CsvFile, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per variant of a Shopify products CSV."""
    include_unpublished = context.settings.include_unpublished

    with csv_file.rows() as (header, rows):
        columns = Columns(header)
        handle_col = columns.find("Handle", "URL handle")
        price_col = columns.find("Variant Price", "Price")
        if handle_col is None or price_col is None:
            raise CatalogError(
                f"{csv_file.path} is not a Shopify products export: the header needs 'Handle' "
                "and 'Variant Price' (or 'URL handle' and 'Price')."
            )
        title_col = columns.find("Title")
        published_col = columns.find("Published", "Published on online store")
        status_col = columns.find("Status")
        sku_col = columns.find("Variant SKU", "SKU")
        option_cols = [columns.find(f"Option{n} Value", f"Option{n} value") for n in (1, 2, 3)]
        market_cols = [
            (name, position, columns.find("Included / " + name.split(" / ", 1)[1]))
            for position, name in enumerate(header)
            if name.startswith("Price / ")
        ]

        handle = None
        title = ""
        on_sale = True
        included: dict[str, bool] = {}
        for line, row in rows:
            context.report.rows_read += 1
            row_handle = cell(row, handle_col)
            if row_handle != handle:
                handle = row_handle
                title = cell(row, title_col)
                on_sale = _shopify_on_sale(cell(row, published_col), cell(row, status_col))
                included = {name: parse_flag(cell(row, inc)) is not False for name, _, inc in market_cols}
            if not handle:
                context.skip(line, columns.name(handle_col), "", "missing handle", "missing id")
                continue

            options = [value for value in (cell(row, position) for position in option_cols) if value]
            sku = cell(row, sku_col) or None
            price = cell(row, price_col)
            if not price and not options and not sku:
                continue  # an image-only row
            if not on_sale and not include_unpublished:
                context.exclude(line, f"product {handle} is draft, archived or unpublished")
                continue

            default_only = options == [_DEFAULT_TITLE]
            variant = None if default_only else (sku or " / ".join(options) or None)
            offer = Offer(
                product=handle,
                variant=variant,
                title=title if default_only or not options else f"{title} - {' / '.join(options)}",
                line=line,
                sku=sku,
                price=price,
                price_field=columns.name(price_col) or "Variant Price",
            )
            if market_cols:
                offer.market_prices = {
                    name: cell(row, position) if included[name] else None for name, position, _ in market_cols
                }
            yield offer


def _shopify_on_sale(published: str, status: str) -> bool:
    if status and status.strip().lower() in _OFF_SALE_STATUSES:
        return False
    return parse_flag(published) is not False


def read_shopify_json(path: Path, encoding: str, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per variant of Shopify product JSON."""
    # NOTE: the JSON document is loaded whole; product JSON contains one or a few products.
    document = load_json(path, encoding)

    if isinstance(document, dict) and isinstance(document.get("products"), list):
        products = [(f"$.products[{i}]", item) for i, item in enumerate(document["products"])]
    elif isinstance(document, dict) and isinstance(document.get("product"), dict):
        products = [("$.product", document["product"])]
    elif isinstance(document, dict):
        products = [("$", document)]
    elif isinstance(document, list):
        products = [(f"$[{i}]", item) for i, item in enumerate(document)]
    else:
        raise CatalogError(f"{path} contains no Shopify product object (an object with a variants list).")

    for where, product in products:
        yield from _product_offers(product, where, context)


def _product_offers(product: object, where: str, context: ReadContext) -> Iterator[Offer]:
    if not isinstance(product, dict) or not isinstance(product.get("variants"), list):
        context.report.rows_read += 1
        context.skip(where, "variants", None, "not a product: the object has no variants list", "invalid row")
        return
    handle = str(product.get("handle") or product.get("id") or "")
    title = str(product.get("title") or "")
    status = str(product.get("status") or "active")
    on_sale = status.lower() not in _OFF_SALE_STATUSES and (
        "published_at" not in product or product["published_at"] is not None
    )

    for index, variant in enumerate(product["variants"]):
        line = f"{where}.variants[{index}]"
        context.report.rows_read += 1
        if not isinstance(variant, dict):
            context.skip(line, None, None, "not a variant object", "invalid row")
            continue
        if not handle:
            context.skip(line, "handle", "", "missing handle", "missing id")
            continue
        if not on_sale and not context.settings.include_unpublished:
            context.exclude(line, f"product {handle} is unpublished, draft or archived")
            continue
        if not context.settings.include_out_of_stock and variant.get("available") is False:
            context.report.skipped_by_reason["out of stock"] += 1
            continue
        variant_title = str(variant.get("title") or "")
        default_only = variant_title in ("", _DEFAULT_TITLE)
        price = variant.get("price")
        if isinstance(price, float):
            price = repr(price)
        yield Offer(
            product=handle,
            variant=None if default_only and len(product["variants"]) == 1 else str(variant.get("id", index)),
            title=title if default_only else f"{title} - {variant_title}",
            line=line,
            sku=str(variant.get("sku") or "") or None,
            price=price if isinstance(price, (int, str)) or price is None else str(price),
            price_field="price",
        )
