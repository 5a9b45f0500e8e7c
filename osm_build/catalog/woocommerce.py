"""Read the WooCommerce product CSV export (Products > Export).

``variable`` products are parents: they carry no price of their own, and their ``variation`` rows
name them in ``Parent`` by SKU or as ``id:NN``. ``grouped`` products never have a price, and
``external`` products may lack one; both are passed over without a row error. Only ``Published``
= 1 is on sale (0 is private, -1 draft), and ``Visibility in catalog`` = hidden leaves a product
out.

Parent linking keeps, per variable product, its ID, SKU and whether it is on sale. Variations
that come before their parent are held until the parent's row arrives, so memory grows with the
number of parents plus such early variations, not with the number of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from osm_build.catalog.context import ReadContext, parse_datetime, parse_flag
from osm_build.catalog.pricing import Offer
from osm_build.catalog.textfile import Columns, CsvFile, cell
from osm_build.errors import CatalogError

REQUIRED_COLUMNS = ("Type", "Regular price")


@dataclass(frozen=True, slots=True)
class _Parent:
    product: str
    title: str
    on_sale: bool


def read_woocommerce(csv_file: CsvFile, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per simple product and per variation of a WooCommerce export."""
    include_unpublished = context.settings.include_unpublished
    include_out_of_stock = context.settings.include_out_of_stock
    parents: dict[str, _Parent] = {}
    waiting: dict[str, list[Offer]] = {}

    with csv_file.rows() as (header, rows):
        columns = Columns(header)
        missing = [name for name in REQUIRED_COLUMNS if columns.find(name) is None]
        if missing:
            raise CatalogError(
                f"{csv_file.path} is not a WooCommerce product export: the header has no "
                f"{', '.join(repr(name) for name in missing)} column."
            )
        id_col = columns.find("ID")
        type_col = columns.find("Type")
        sku_col = columns.find("SKU")
        name_col = columns.find("Name")
        published_col = columns.find("Published")
        visibility_col = columns.find("Visibility in catalog")
        stock_col = columns.find("In stock?")
        starts_col = columns.find("Date sale price starts")
        ends_col = columns.find("Date sale price ends")
        sale_col = columns.find("Sale price")
        price_col = columns.find("Regular price")
        parent_col = columns.find("Parent")
        market_at = context.market_positions(header)

        for line, row in rows:
            context.report.rows_read += 1
            kinds = {kind.strip().lower() for kind in cell(row, type_col).split(",")}
            product_id = cell(row, id_col)
            sku = cell(row, sku_col) or None
            title = cell(row, name_col)
            on_sale = _on_sale(cell(row, published_col), cell(row, visibility_col))

            if "variable" in kinds:
                parent = _Parent(product_id or sku or f"line {line}", title, on_sale)
                for key in (product_id, f"id:{product_id}" if product_id else "", sku or ""):
                    if key:
                        parents[key] = parent
                for key in (product_id, f"id:{product_id}", sku):
                    for early in waiting.pop(key or "", []):
                        yield from _finish_variation(early, parent, context, include_unpublished)
                continue
            if "grouped" in kinds:
                context.report.skipped_by_reason["grouped product (no price)"] += 1
                continue
            if "external" in kinds and not cell(row, price_col):
                context.report.skipped_by_reason["external product without price"] += 1
                continue
            if not include_out_of_stock and parse_flag(cell(row, stock_col)) is False:
                context.report.skipped_by_reason["out of stock"] += 1
                continue

            offer = Offer(
                product=product_id or sku or "",
                variant=None,
                title=title,
                line=line,
                sku=sku,
                price=cell(row, price_col),
                price_field=columns.name(price_col) or "Regular price",
                sale_price=cell(row, sale_col),
                sale_field=columns.name(sale_col) or "Sale price",
            )
            if market_at:
                offer.market_prices = {name: cell(row, position) for name, position in market_at.items()}
            if offer.sale_price and not _read_window(offer, row, starts_col, ends_col, columns, context):
                continue
            if not offer.product:
                context.skip(line, "ID", "", "missing product id: both ID and SKU are empty", "missing id")
                continue

            if "variation" in kinds:
                offer.variant = product_id or sku
                reference = cell(row, parent_col)
                if not on_sale and not include_unpublished:
                    context.exclude(line, "variation is not published")
                    continue
                parent = parents.get(reference)
                if parent is None:
                    waiting.setdefault(reference, []).append(offer)
                    continue
                yield from _finish_variation(offer, parent, context, include_unpublished)
                continue

            if not on_sale and not include_unpublished:
                context.exclude(line, "product is unpublished or hidden")
                continue
            yield offer

    for reference, offers in waiting.items():
        for offer in offers:
            if reference.startswith("id:") and reference[3:].strip():
                # The parent ID is known from the reference even though its row is missing.
                yield from _finish_variation(offer, _Parent(reference[3:].strip(), "", True), context, True)
                continue
            context.skip(
                offer.line,
                "Parent",
                reference,
                f"parent not found: no variable product with SKU or ID {reference!r} in the file",
                "parent not found",
            )


def _finish_variation(
    offer: Offer, parent: _Parent, context: ReadContext, include_unpublished: bool
) -> Iterator[Offer]:
    if not parent.on_sale and not include_unpublished:
        context.exclude(offer.line, f"parent product {parent.product} is unpublished or hidden")
        return
    offer.product = parent.product
    yield offer


def _on_sale(published: str, visibility: str) -> bool:
    if published and published.strip() != "1":
        return False
    return visibility.strip().lower() != "hidden"


def _read_window(
    offer: Offer, row: list[str], starts_col: int | None, ends_col: int | None, columns: Columns, context: ReadContext
) -> bool:
    """Set the offer's sale window from the date columns; False after a row error."""
    for position, is_end in ((starts_col, False), (ends_col, True)):
        text = cell(row, position)
        if not text:
            continue
        try:
            moment = parse_datetime(text, end=is_end)
        except ValueError:
            context.skip(
                offer.line,
                columns.name(position),
                text,
                "invalid sale date: use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS",
                "invalid sale date",
            )
            return False
        if is_end:
            offer.sale_ends = moment
        else:
            offer.sale_starts = moment
    return True
