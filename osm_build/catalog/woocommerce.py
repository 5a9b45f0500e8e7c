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
        # Each row is cut or padded to the header's width plus one empty cell, which the
        # positions of absent columns point at, so cells are read without bounds checks.
        blank_at = len(header)
        padding = [""] * (blank_at + 1)

        def position(name: str) -> int:
            found = columns.find(name)
            return blank_at if found is None else found

        id_col = position("ID")
        type_col = position("Type")
        sku_col = position("SKU")
        name_col = position("Name")
        published_col = position("Published")
        visibility_col = position("Visibility in catalog")
        stock_col = position("In stock?")
        starts_col = position("Date sale price starts")
        ends_col = position("Date sale price ends")
        sale_col = position("Sale price")
        price_col = position("Regular price")
        parent_col = position("Parent")
        price_field = columns.name(columns.find("Regular price")) or "Regular price"
        sale_field = columns.name(columns.find("Sale price")) or "Sale price"
        window_fields = (
            (starts_col, columns.name(columns.find("Date sale price starts")), False),
            (ends_col, columns.name(columns.find("Date sale price ends")), True),
        )
        market_at = context.market_positions(header)

        for line, row in rows:
            context.report.rows_read += 1
            if len(row) == blank_at:
                row.append("")
            else:
                row = row[:blank_at] + padding[min(len(row), blank_at) :]
            kinds = {kind.strip().lower() for kind in row[type_col].split(",")}
            product_id = row[id_col].strip()
            sku = row[sku_col].strip() or None
            title = row[name_col].strip()
            on_sale = _on_sale(row[published_col].strip(), row[visibility_col])

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
            if "external" in kinds and not row[price_col].strip():
                context.report.skipped_by_reason["external product without price"] += 1
                continue
            if not include_out_of_stock and parse_flag(row[stock_col]) is False:
                context.report.skipped_by_reason["out of stock"] += 1
                continue

            offer = Offer(
                product=product_id or sku or "",
                variant=None,
                title=title,
                line=line,
                sku=sku,
                price=row[price_col].strip(),
                price_field=price_field,
                sale_price=row[sale_col].strip(),
                sale_field=sale_field,
            )
            if market_at:
                offer.market_prices = {name: cell(row, position) for name, position in market_at.items()}
            if offer.sale_price and not _read_window(offer, row, window_fields, context):
                continue
            if not offer.product:
                context.skip(line, "ID", "", "missing product id: both ID and SKU are empty", "missing id")
                continue

            if "variation" in kinds:
                offer.variant = product_id or sku
                reference = row[parent_col].strip()
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
    offer: Offer, row: list[str], window_fields: tuple[tuple[int, str | None, bool], ...], context: ReadContext
) -> bool:
    """Set the offer's sale window from the date columns; False after a row error."""
    for position, name, is_end in window_fields:
        text = row[position].strip()
        if not text:
            continue
        try:
            moment = parse_datetime(text, end=is_end)
        except ValueError:
            context.skip(
                offer.line,
                name,
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
