"""Shopify, Google feeds, Magento, commercetools and generic readers on hand-made files."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from conftest import DATA, read

from osm_build.catalog.settings import MarketSettings


def test_shopify_compare_at_below_price() -> None:
    items, _ = read(DATA / "shopify_older.csv", currency="USD")
    small = next(item for item in items if item.variant == "MUG-S")
    large = next(item for item in items if item.variant == "MUG-L")
    assert small.purchase_amount == 2000  # compare-at 15.00 is below 20.00: not a sale
    assert large.purchase_amount == 2500


def test_shopify_older_columns() -> None:
    items, report = read(DATA / "shopify_older.csv", currency="USD")
    assert report.format == "shopify"
    assert [(item.product, item.variant) for item in items] == [("mug", "MUG-S"), ("mug", "MUG-L"), ("plate", None)]
    assert items[0].source == "shopify_older.csv:2"
    assert items[1].source == "shopify_older.csv:4"  # the first row spans two physical lines


def test_shopify_market_column() -> None:
    market = MarketSettings(locale="da-DK", price_column="Price / Denmark")
    items, report = read(DATA / "shopify_older.csv", markets=[market], currency="USD")
    assert [(item.variant, item.purchase_amount) for item in items] == [("MUG-S", 14900)]
    # MUG-L has no Denmark price and its USD price is no DKK price; the plate is not sold there.
    assert report.market_mismatches == 1


def test_shopify_json_minor_units(tmp_path) -> None:
    path = tmp_path / "product.json"
    product = {
        "handle": "kettle",
        "title": "Kettle",
        "variants": [{"id": 1, "title": "Default Title", "price": 52000, "compare_at_price": 52000}],
    }
    path.write_text(json.dumps({"product": product}), encoding="utf-8")
    items, report = read(path, ("sv-SE",), currency="SEK")
    assert report.format == "shopify-json"
    assert [(item.product, item.variant, item.purchase_amount) for item in items] == [("kettle", None, 52000)]


def test_shopify_json_admin_strings(tmp_path) -> None:
    path = tmp_path / "products.json"
    product = {"handle": "pot", "title": "Pot", "variants": [{"id": 7, "title": "Big", "price": "520.00"}]}
    path.write_text(json.dumps({"products": [product]}), encoding="utf-8")
    items, _ = read(path, currency="USD", format="shopify-json")
    assert items[0].purchase_amount == 52000
    assert items[0].variant == "7"


def test_atom_feed_sale_open() -> None:
    items, report = read(DATA / "atom_feed.xml", ("sv-SE",))
    assert report.format == "google-xml"
    lamp = items[0]
    assert (lamp.product, lamp.variant, lamp.purchase_amount) == ("A1", None, 8000)
    assert lamp.price_changes_at == datetime(2024, 5, 14, 22, 0, tzinfo=UTC)
    assert lamp.source == "atom_feed.xml:/feed/entry[1]"


def test_atom_feed_ambiguous_price() -> None:
    items, report = read(DATA / "atom_feed.xml", ("sv-SE",))
    assert len(items) == 1
    assert report.skipped_by_reason["ambiguous price"] == 1
    assert report.errors[0].line == "/feed/entry[2]"


def test_google_sale_expired_2016(tmp_path) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(
        '<rss version="2.0" xmlns:g="http://base.google.com/ns/1.0"><channel>'
        "<item><g:id>1</g:id><g:price>200.00 SEK</g:price><g:sale_price>150.00 SEK</g:sale_price>"
        "<g:sale_price_effective_date>2016-02-24T13:00-0800/2016-02-29T15:30+0200</g:sale_price_effective_date>"
        "</item></channel></rss>",
        encoding="utf-8",
    )
    items, _ = read(path, ("sv-SE",))
    assert items[0].purchase_amount == 20000


def test_google_tsv(tmp_path) -> None:
    path = tmp_path / "feed.tsv"
    path.write_text("id\ttitle\tprice\tavailability\nX1\tBox\t49.90 EUR\tin_stock\n", encoding="utf-8")
    items, report = read(path, ("de-DE",))
    assert report.format == "google-csv"
    assert items[0].purchase_amount == 4990


def test_magento_special_price(tmp_path) -> None:
    path = tmp_path / "magento.csv"
    path.write_text(
        "sku,store_view_code,product_type,name,product_online,visibility,price,special_price,"
        "special_price_from_date,special_price_to_date,configurable_variations\n"
        "lamp,,simple,Lamp,1,\"Catalog, Search\",100.00,80.00,2024-04-01,2024-05-31,\n"
        "off,,simple,Off,0,\"Catalog, Search\",10.00,,,,\n",
        encoding="utf-8",
    )
    items, report = read(path, ("de-DE",), currency="EUR")
    assert [(item.product, item.purchase_amount) for item in items] == [("lamp", 8000)]
    assert items[0].price_changes_at == datetime(2024, 6, 1, tzinfo=UTC)
    assert report.excluded_unpublished == 1


def test_generic_csv_mapping(tmp_path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("sku;name;amount;cur\nA;Alpha;12,50;EUR\nB;Beta;7,00;DKK\n", encoding="utf-8")
    mapping = {"product_id": "sku", "title": "name", "price": "amount", "currency": "cur"}
    items, report = read(path, ("de-DE", "da-DK"), format="csv", mapping=mapping)
    assert [(item.product, item.locale, item.purchase_amount) for item in items] == [
        ("A", "de-DE", 1250),
        ("B", "da-DK", 700),
    ]
    assert report.market_mismatches == 2


def test_generic_jsonl(tmp_path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(
        '{"id": "a", "title": "A", "offer": {"price": 12.5}}\n\n'
        '{"id": "b", "title": "B", "offer": {"price": "x"}}\n'
        "not json\n",
        encoding="utf-8",
    )
    mapping = {"price": "offer.price"}
    items, report = read(path, ("de-DE",), currency="EUR", mapping=mapping)
    assert report.format == "jsonl"
    assert [(item.product, item.purchase_amount) for item in items] == [("a", 1250)]
    assert report.skipped_by_reason["invalid price"] == 1
    assert report.skipped_by_reason["invalid row"] == 1
    assert report.errors[-1].line == 4


def test_generic_json_minor_units(tmp_path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{"id": "a", "cents": 1999}, {"id": "b", "cents": "12.5"}]), encoding="utf-8")
    mapping = {"price": "cents", "price_in_minor_units": True}
    items, report = read(path, ("de-DE",), currency="EUR", format="json", mapping=mapping)
    assert [(item.product, item.purchase_amount) for item in items] == [("a", 1999)]
    assert report.errors[0].line == "$[1]"
