"""Read generic CSV, JSON and JSON Lines exports through ``catalog.mapping``.

The mapping names the column (CSV) or key (JSON) of each field. JSON keys may be dotted paths
(``offer.price``). JSON numbers are read as major units (``12.5``) unless
``price_in_minor_units`` is set; JSON Lines are read line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from osm_build.catalog.amounts import AmountError, parse_minor_units
from osm_build.catalog.context import ReadContext, parse_datetime, parse_flag
from osm_build.catalog.pricing import Offer
from osm_build.catalog.settings import FieldMapping
from osm_build.catalog.textfile import CsvFile, load_json, open_text
from osm_build.errors import CatalogError

_OFF_WORDS = frozenset({"draft", "hidden", "archived", "unpublished", "private", "inactive", "disabled"})


class CsvLayout:
    """Positions of the ``catalog.mapping`` columns in the header of a generic CSV file.

    Attributes:
        index: the first position of each column name.
        plain: True when the mapping names no column of the header besides id, variant, SKU,
            price and title, so that a row's prices depend on its price cell alone.
    """

    def __init__(self, header: list[str], mapping: FieldMapping, path: Path) -> None:
        self.index = {name: position for position, name in reversed(list(enumerate(header)))}
        missing = [name for name in (mapping.product_id, mapping.price) if name not in self.index]
        if missing:
            raise CatalogError(
                f"{path} has no column {', '.join(repr(m) for m in missing)} named in "
                f"catalog.mapping; its header is: {', '.join(header) or '(empty)'}."
            )
        self.product_at = self.index[mapping.product_id]
        self.price_at = self.index[mapping.price]
        self.title_at = self.index.get(mapping.title) if mapping.title else None
        self.variant_at = self.index.get(mapping.variant_id) if mapping.variant_id else None
        self.sku_at = self.index.get(mapping.sku) if mapping.sku else None
        # Variant and SKU columns name an item but do not change its price.
        other_columns = (
            mapping.currency,
            mapping.sale_price,
            mapping.sale_starts,
            mapping.sale_ends,
            mapping.published,
        )
        self.plain = not any(column in self.index for column in other_columns if column)

    def record(self, row: list[str]) -> dict[str, str]:
        """Return the row's cells by column name, leaving out the columns a short row lacks."""
        width = len(row)
        return {name: row[position] for name, position in self.index.items() if position < width}


def read_generic_csv(csv_file: CsvFile, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per row of a CSV file, with columns named by the mapping."""
    with csv_file.rows() as (header, rows):
        layout = CsvLayout(header, context.settings.mapping, csv_file.path)
        yield from mapped_csv_offers(layout, context.market_positions(header), rows, context)


def mapped_csv_offers(
    layout: CsvLayout, market_at: dict[str, int], rows: Iterator[tuple[int, list[str]]], context: ReadContext
) -> Iterator[Offer]:
    """Yield an offer per numbered row, reading each field through the mapping."""
    rows_read = 0
    try:
        for line, row in rows:
            rows_read += 1
            offer = csv_row_offer(layout, market_at, line, row, context)
            if offer is not None:
                yield offer
    finally:
        context.report.rows_read += rows_read


def csv_row_offer(
    layout: CsvLayout, market_at: dict[str, int], line: int, row: list[str], context: ReadContext
) -> Offer | None:
    """Return the offer of one CSV row, or None after recording why the row yields nothing."""
    record = layout.record(row)
    offer = _mapped_offer(record, context.settings.mapping, line, context)
    if offer is not None and market_at:
        offer.market_prices = {name: record.get(name, "").strip() for name in market_at}
    return offer


def read_generic_json(path: Path, encoding: str, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per object of a JSON array (or of the first list in a top-level object)."""
    # NOTE: a JSON array is loaded whole; for large exports use JSON Lines, which streams.
    document = load_json(path, encoding)
    items, prefix = document, "$"
    if isinstance(document, dict):
        key = next((k for k, value in document.items() if isinstance(value, list)), None)
        if key is None:
            raise CatalogError(f"{path} contains a JSON object without a list of products; write a JSON array of product objects.")
        items, prefix = document[key], f"$.{key}"
    if not isinstance(items, list):
        raise CatalogError(f"{path} contains no JSON array of products; write a JSON array of product objects.")
    for position, record in enumerate(items):
        context.report.rows_read += 1
        where = f"{prefix}[{position}]"
        if not isinstance(record, dict):
            context.skip(where, None, None, "not a JSON object", "invalid row")
            continue
        offer = _mapped_offer(record, context.settings.mapping, where, context)
        if offer is not None:
            yield offer


def read_generic_jsonl(path: Path, encoding: str, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per line of a JSON Lines file."""
    with open_text(path, encoding) as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            context.report.rows_read += 1
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                context.skip(line, None, text.strip()[:80], f"invalid JSON: {error.msg}", "invalid row")
                continue
            if not isinstance(record, dict):
                context.skip(line, None, text.strip()[:80], "not a JSON object", "invalid row")
                continue
            offer = _mapped_offer(record, context.settings.mapping, line, context)
            if offer is not None:
                yield offer


def _lookup(record: dict[str, Any], key: str | None) -> Any:
    if key is None:
        return None
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value).strip()


def _mapped_offer(record: dict[str, Any], mapping: FieldMapping, where: int | str, context: ReadContext) -> Offer | None:
    product = _text(_lookup(record, mapping.product_id))
    if not product:
        context.skip(where, mapping.product_id, "", "missing product id", "missing id")
        return None
    published = _text(_lookup(record, mapping.published))
    if published and (parse_flag(published) is False or published.lower() in _OFF_WORDS):
        if not context.settings.include_unpublished:
            context.exclude(where, f"{mapping.published} is {published!r}")
            return None

    price: str | int = _text(_lookup(record, mapping.price))
    sale: str | int = _text(_lookup(record, mapping.sale_price))
    if mapping.price_in_minor_units:
        try:
            price = parse_minor_units(price)
            sale = parse_minor_units(sale) if sale else sale
        except AmountError as error:
            context.skip(where, mapping.price, price, f"{error.key}: {error}", error.key)
            return None
    offer = Offer(
        product=product,
        variant=_text(_lookup(record, mapping.variant_id)) or None,
        title=_text(_lookup(record, mapping.title)),
        line=where,
        sku=_text(_lookup(record, mapping.sku)) or None,
        price=price,
        price_field=mapping.price,
        currency=_text(_lookup(record, mapping.currency)).upper() or None,
        sale_price=sale,
        sale_field=mapping.sale_price or "sale_price",
    )
    for key, is_end in ((mapping.sale_starts, False), (mapping.sale_ends, True)):
        text = _text(_lookup(record, key))
        if not text:
            continue
        try:
            moment = parse_datetime(text, end=is_end)
        except ValueError:
            context.skip(where, key, text, "invalid sale date: use ISO 8601 such as 2024-05-01", "invalid sale date")
            return None
        if is_end:
            offer.sale_ends = moment
        else:
            offer.sale_starts = moment
    return offer
