"""Read Google Merchant Center product feeds: RSS 2.0 or Atom XML, and CSV or TSV.

Fields are the Google names with or without the ``g:`` prefix: ``id``, ``title``, ``price``,
``sale_price``, ``sale_price_effective_date`` (``start/end`` in ISO 8601), ``item_group_id`` and
``availability``. Prices carry their currency (``99.99 SEK``, ``SEK 100``). Items of a group are
variants of the product ``item_group_id``; an item without a group is a product with no variant.

XML is parsed with ``iterparse`` and each item is removed from the tree once read, so memory does
not grow with the feed. A row's source in XML is its element path, such as
``/rss/channel/item[2]``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from osm_build.catalog.context import ReadContext, parse_datetime
from osm_build.catalog.pricing import Offer
from osm_build.catalog.textfile import Columns, CsvFile, cell
from osm_build.errors import CatalogError

GOOGLE_NS = "http://base.google.com/ns/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
_ITEM_TAGS = frozenset({"item", f"{{{ATOM_NS}}}entry"})
_FIELDS = ("id", "title", "price", "sale_price", "sale_price_effective_date", "item_group_id", "availability")
_OUT_OF_STOCK = frozenset({"out_of_stock", "out of stock"})


def read_google_xml(path: Path, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per ``item`` (RSS) or ``entry`` (Atom) of a merchant feed."""
    stack: list[ET.Element] = []
    names: list[str] = []
    counts: list[dict[str, int]] = [{}]
    try:
        for event, element in ET.iterparse(path, events=("start", "end")):
            if event == "start":
                name = _local(element.tag)
                siblings = counts[-1]
                siblings[name] = siblings.get(name, 0) + 1
                names.append(f"{name}[{siblings[name]}]" if name in ("item", "entry") else name)
                counts.append({})
                stack.append(element)
                continue
            stack.pop()
            counts.pop()
            where = "/" + "/".join(names)
            names.pop()
            if element.tag not in _ITEM_TAGS:
                continue
            fields = _item_fields(element)
            if stack:
                stack[-1].remove(element)
            context.report.rows_read += 1
            offer = _feed_offer(fields, where, context)
            if offer is not None:
                yield offer
    except ET.ParseError as error:
        raise CatalogError(f"{path} is not well-formed XML: {error}. Fix the feed and build again.") from error


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _item_fields(item: ET.Element) -> dict[str, str]:
    """Return the item's leaf fields; ``g:`` elements win over same-named plain ones (Atom ``id``)."""
    fields: dict[str, str] = {}
    google: dict[str, str] = {}
    for child in item:
        if len(child):
            continue
        text = (child.text or "").strip()
        name = _local(child.tag)
        target = google if child.tag.startswith(f"{{{GOOGLE_NS}}}") else fields
        target.setdefault(name, text)
    fields.update(google)
    return fields


def read_google_csv(csv_file: CsvFile, context: ReadContext) -> Iterator[Offer]:
    """Yield an offer per row of a merchant feed in CSV or TSV."""
    with csv_file.rows() as (header, rows):
        columns = Columns([name[2:] if name.lower().startswith("g:") else name for name in header])
        positions = {name: columns.find(name) for name in _FIELDS}
        if positions["id"] is None or positions["price"] is None:
            raise CatalogError(f"{csv_file.path} is not a merchant feed: the header needs 'id' and 'price'.")
        for line, row in rows:
            context.report.rows_read += 1
            fields = {name: cell(row, position) for name, position in positions.items()}
            offer = _feed_offer(fields, line, context)
            if offer is not None:
                yield offer


def _feed_offer(fields: dict[str, str], where: int | str, context: ReadContext) -> Offer | None:
    item_id = fields.get("id", "")
    if not item_id:
        context.skip(where, "id", "", "missing id: the item has no g:id", "missing id")
        return None
    if not context.settings.include_out_of_stock and fields.get("availability", "").lower() in _OUT_OF_STOCK:
        context.report.skipped_by_reason["out of stock"] += 1
        return None
    group = fields.get("item_group_id", "")
    offer = Offer(
        product=group or item_id,
        variant=item_id if group else None,
        title=fields.get("title", ""),
        line=where,
        price=fields.get("price", ""),
        price_field="price",
        sale_price=fields.get("sale_price", ""),
        sale_field="sale_price",
    )
    window = fields.get("sale_price_effective_date", "")
    if offer.sale_price and window:
        starts, _, ends = window.partition("/")
        try:
            offer.sale_starts = parse_datetime(starts) if starts.strip() else None
            offer.sale_ends = parse_datetime(ends, end=True) if ends.strip() else None
        except ValueError:
            context.skip(
                where,
                "sale_price_effective_date",
                window,
                "invalid sale window: use ISO 8601 start/end such as 2024-02-24T13:00-08:00/2024-02-29",
                "invalid sale date",
            )
            return None
    return offer
