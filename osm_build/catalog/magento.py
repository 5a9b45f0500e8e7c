"""Read the Magento 2 catalog CSV export (System > Export > Products).

A ``configurable`` product is a parent: it yields one item per child listed in
``configurable_variations`` (``sku=child-1,color=Red|sku=child-2,color=Blue``) and never its own
price. Rows with a ``store_view_code`` override labels for one store view and carry no price, so
they are passed over. ``product_online`` = 0 and ``visibility`` = Not Visible Individually (for a
product no parent claims) mean not on sale. ``special_price`` applies between
``special_price_from_date`` and ``special_price_to_date``.

Magento exports usually list children before their parent. A child with visibility "Not Visible
Individually" is therefore held until a parent claims it, and the SKUs of children claimed by a
parent are kept to link children that come later. Memory grows with those two sets, not with the
whole file.
"""

from __future__ import annotations

from collections.abc import Iterator

from osm_build.catalog.context import ReadContext, parse_datetime
from osm_build.catalog.pricing import Offer
from osm_build.catalog.textfile import Columns, CsvFile, cell
from osm_build.errors import CatalogError

_NOT_VISIBLE = "not visible individually"


def read_magento(csv_file: CsvFile, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per simple product and per child of a configurable product."""
    include_unpublished = context.settings.include_unpublished
    held: dict[str, tuple[Offer, bool]] = {}
    parent_of: dict[str, tuple[str, bool]] = {}

    with csv_file.rows() as (header, rows):
        columns = Columns(header)
        sku_col = columns.find("sku")
        price_col = columns.find("price")
        if sku_col is None or price_col is None or columns.find("product_type") is None:
            raise CatalogError(
                f"{csv_file.path} is not a Magento catalog export: the header needs 'sku', "
                "'product_type' and 'price'."
            )
        store_col = columns.find("store_view_code")
        type_col = columns.find("product_type")
        name_col = columns.find("name")
        online_col = columns.find("product_online")
        visibility_col = columns.find("visibility")
        variations_col = columns.find("configurable_variations")
        special_col = columns.find("special_price")
        from_col = columns.find("special_price_from_date")
        to_col = columns.find("special_price_to_date")

        for line, row in rows:
            context.report.rows_read += 1
            if cell(row, store_col):
                continue  # store-view override of labels, no price of its own
            sku = cell(row, sku_col)
            if not sku:
                context.skip(line, "sku", "", "missing sku", "missing id")
                continue
            kind = cell(row, type_col).lower()
            online = cell(row, online_col) != "0"
            visible = cell(row, visibility_col).lower() != _NOT_VISIBLE

            if kind == "configurable":
                for child_sku in _child_skus(cell(row, variations_col)):
                    parent_of[child_sku] = (sku, online)
                    if child_sku in held:
                        child, child_online = held.pop(child_sku)
                        yield from _child(child, sku, online and child_online, context, include_unpublished)
                continue

            offer = Offer(
                product=sku,
                variant=None,
                title=cell(row, name_col),
                line=line,
                sku=sku,
                price=cell(row, price_col),
                price_field="price",
                sale_price=cell(row, special_col),
                sale_field="special_price",
            )
            if offer.sale_price and not _read_window(offer, row, from_col, to_col, context):
                continue
            if sku in parent_of:
                parent_sku, parent_online = parent_of[sku]
                yield from _child(offer, parent_sku, parent_online and online, context, include_unpublished)
            elif not visible:
                held[sku] = (offer, online)
            elif not online and not include_unpublished:
                context.exclude(line, "product_online is 0")
            else:
                yield offer

    for offer, online in held.values():
        if include_unpublished:
            yield offer
        else:
            context.exclude(offer.line, "visibility is Not Visible Individually and no configurable product lists it")


def _child(
    offer: Offer, parent_sku: str, online: bool, context: ReadContext, include_unpublished: bool
) -> Iterator[Offer]:
    if not online and not include_unpublished:
        context.exclude(offer.line, f"product_online is 0 for it or its parent {parent_sku}")
        return
    offer.variant = offer.product
    offer.product = parent_sku
    yield offer


def _child_skus(variations: str) -> list[str]:
    skus = []
    for variation in variations.split("|"):
        for pair in variation.split(","):
            key, _, value = pair.partition("=")
            if key.strip() == "sku" and value.strip():
                skus.append(value.strip())
    return skus


def _read_window(offer: Offer, row: list[str], from_col: int | None, to_col: int | None, context: ReadContext) -> bool:
    for position, is_end, name in ((from_col, False, "special_price_from_date"), (to_col, True, "special_price_to_date")):
        text = cell(row, position)
        if not text:
            continue
        try:
            moment = parse_datetime(text, end=is_end)
        except ValueError:
            context.skip(offer.line, name, text, "invalid sale date: use YYYY-MM-DD", "invalid sale date")
            return False
        if is_end:
            offer.sale_ends = moment
        else:
            offer.sale_starts = moment
    return True
