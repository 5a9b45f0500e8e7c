"""Recognise a catalog export's format from its header row, XML root element or JSON shape."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from osm_build.catalog.settings import CatalogSettings
from osm_build.catalog.textfile import clean_header, read_sample, sniff_delimiter
from osm_build.errors import CatalogError

SUPPORTED_FORMATS = {
    "woocommerce": "WooCommerce product CSV (columns Type, Regular price)",
    "shopify": "Shopify products CSV (columns Handle, Variant Price)",
    "shopify-json": "Shopify product JSON (an object with a variants list)",
    "google-xml": "Google Merchant Center feed, RSS 2.0 or Atom",
    "google-csv": "Google Merchant Center feed, CSV or TSV (columns id, price, ...)",
    "magento": "Magento 2 catalog CSV (columns sku, product_type, price)",
    "commercetools": "commercetools product CSV (columns productType, prices)",
    "csv": "any CSV with catalog.mapping",
    "json": "a JSON array of objects with catalog.mapping",
    "jsonl": "JSON Lines with catalog.mapping",
}

_MAPPING_EXAMPLE = """\
  catalog:
    path: products.csv
    format: csv
    currency: EUR
    mapping:
      product_id: <column with the id that pages use in data-osm-product>
      variant_id: <column with the variant id, if any>
      title: <column with the title>
      price: <column with the price>"""

_GOOGLE_COLUMNS = frozenset({"link", "availability", "item_group_id", "sale_price", "image_link", "condition"})


def detect_format(path: Path, encoding: str, settings: CatalogSettings) -> str:
    """Return the format name of the export at ``path``.

    Raises:
        CatalogError: no supported format matches; the message lists them and shows a mapping.
    """
    sample = read_sample(path, encoding)
    start = sample.lstrip()[:1]
    if start == "<":
        detected = _xml_format(path)
    elif start in ("{", "["):
        detected = _json_format(sample)
    else:
        detected = _csv_format(sample, path, settings)
    if detected is None:
        raise CatalogError(_unrecognised_message(path, sample))
    return detected


def _xml_format(path: Path) -> str | None:
    try:
        for _, element in ET.iterparse(path, events=("start",)):
            tag = element.tag
            return "google-xml" if tag in ("rss", "{http://www.w3.org/2005/Atom}feed") else None
    except ET.ParseError:
        return None
    return None


def _json_format(sample: str) -> str | None:
    first_line = sample.lstrip().split("\n", 1)[0].strip()
    try:
        first = json.loads(first_line)
    except json.JSONDecodeError:
        first = None
    rest = sample.lstrip()[len(first_line) :].strip()
    if isinstance(first, dict) and rest.startswith("{"):
        return "jsonl"
    stripped = sample.lstrip()
    head = stripped[:4000]
    if stripped.startswith("{") and '"variants"' in head and ('"handle"' in head or '"products"' in head or '"product"' in head):
        return "shopify-json"
    return "json"


def _csv_format(sample: str, path: Path, settings: CatalogSettings) -> str | None:
    delimiter = sniff_delimiter(sample, path)
    first_line = sample.splitlines()[0] if sample else ""
    header = clean_header(next(iter(_split_header(first_line, delimiter)), []))
    lower = {name.lower() for name in header}
    mapped = {settings.mapping.product_id.lower(), settings.mapping.price.lower()}
    if settings.mapping.model_fields_set and mapped <= lower:
        return "csv"
    if {"producttype", "prices"} <= lower:
        return "commercetools"
    if {"type", "regular price"} <= lower:
        return "woocommerce"
    if ("handle" in lower or "url handle" in lower) and ("variant price" in lower or "price" in lower):
        return "shopify"
    if {"sku", "product_type", "price"} <= lower:
        return "magento"
    plain = {name.removeprefix("g:") for name in lower}
    if {"id", "price"} <= plain and plain & _GOOGLE_COLUMNS:
        return "google-csv"
    if mapped <= lower:
        return "csv"
    return None


def _split_header(line: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader([line], delimiter=delimiter))


def _unrecognised_message(path: Path, sample: str) -> str:
    first_line = sample.lstrip().splitlines()[0][:200] if sample.strip() else "(empty file)"
    formats = "\n".join(f"  - {name}: {text}" for name, text in SUPPORTED_FORMATS.items())
    return (
        f"The format of the catalog export {path} is not recognised (it starts with: {first_line}).\n"
        f"Set catalog.format to one of:\n{formats}\n"
        f"For any other CSV, name its columns in catalog.mapping, for example:\n{_MAPPING_EXAMPLE}"
    )
