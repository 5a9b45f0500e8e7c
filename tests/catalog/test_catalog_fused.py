"""The fused generic CSV loop: the same items, counts and row errors as the general path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import BUILD_TIME

from osm_build.catalog import fused, read_catalog
from osm_build.catalog.context import ReadContext
from osm_build.catalog.generic import read_generic_csv
from osm_build.catalog.model import CatalogReport, PricedItem
from osm_build.catalog.pricing import Pricer
from osm_build.catalog.settings import CatalogSettings, MarketSettings
from osm_build.catalog.textfile import CsvFile, detect_encoding

# Rows that are cached, repeat a cached price, or must take the general path.
TRICKY_ROWS = (
    "p1, Widget ,19.99\n"
    "p2,Gadget,19.99\n"
    'p3,Thing," 19.99"\n'
    ",No id,19.99\n"
    '"  ",Blank id,19.99\n'
    'p4,Comma,"1,800"\n'
    "p5,Euro,12.50 EUR\n"
    "p6,Zero,0.00\n"
    "p7,Negative,-5\n"
    "p8,Rounded,1.0050\n"
    "p9,Symbol,$5\n"
    "p10,Short\n"
    "p10b\n"
    "\n"
    ",,\n"
    'p11,"Two\nlines",19.99\n'
    "p12,Code,USD 7\n"
    'p13,Grouped,"1,234.56"\n'
    "p14,Rounded again,1.0050\n"
    "p1,Duplicate,19.99\n"
    "p15,Text,abc\n"
    "p16,Text again,abc\n"
    "p17,,3\n"
    "  p18  ,Spaces,4.5\n"
    "p19,Extra,19.99,unmapped\n"
    "p20,Empty price,\n"
    "p21,Yen,JPY 500\n"
    "p22,Kronor,99 kr\n"
)

MARKET_SETS = {
    "one": [MarketSettings(locale="en-US")],
    "two": [MarketSettings(locale="en-US"), MarketSettings(locale="es-US")],
    "mixed": [MarketSettings(locale="en-US"), MarketSettings(locale="de-DE")],
    "net": [
        MarketSettings(locale="en-US", prices_include_tax=False, tax_rate_percent=Decimal("8.25")),
        MarketSettings(locale="es-US"),
    ],
    "net without rate": [MarketSettings(locale="en-US", prices_include_tax=False)],
    "none": [],
}

SETTINGS = {
    "usd": {"currency": "USD"},
    "no currency": {},
    "number locale": {"currency": "USD", "number_locale": "en"},
}


def read_fused(path: Path, markets: list[MarketSettings], **catalog: object) -> tuple[list[PricedItem], CatalogReport]:
    """Read ``path`` through read_catalog, which takes the fused loop for the plain layout."""
    report = CatalogReport()
    settings = CatalogSettings(path=path.name, format="csv", **catalog)
    items = list(read_catalog(settings, markets, base_dir=path.parent, report=report, now=BUILD_TIME))
    return items, report


def read_general(path: Path, markets: list[MarketSettings], **catalog: object) -> tuple[list[PricedItem], CatalogReport]:
    """Read ``path`` row by row: an Offer per row, priced by ``Pricer.price``."""
    report = CatalogReport()
    settings = CatalogSettings(path=path.name, format="csv", **catalog)
    market_columns = tuple(market.price_column for market in markets if market.price_column)
    context = ReadContext(path=path, settings=settings, report=report, now=BUILD_TIME, market_columns=market_columns)
    pricer = Pricer(context, markets)
    csv_file = CsvFile(path, detect_encoding(path, None))
    items = [item for offer in read_generic_csv(csv_file, context) for item in pricer.price(offer)]
    context.finish()
    return items, report


def assert_same_read(path: Path, markets: list[MarketSettings], **catalog: object) -> list[PricedItem]:
    """Check that both paths give equal items and reports; return the items."""
    fused_items, fused_report = read_fused(path, markets, **catalog)
    general_items, general_report = read_general(path, markets, **catalog)
    assert fused_items == general_items
    assert fused_report.rows_read == general_report.rows_read
    assert fused_report.items_priced == general_report.items_priced
    assert fused_report.market_mismatches == general_report.market_mismatches
    assert fused_report.skipped_by_reason == general_report.skipped_by_reason
    assert fused_report.errors == general_report.errors
    return fused_items


@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("markets", MARKET_SETS.values(), ids=MARKET_SETS.keys())
def test_fused_matches_general(tmp_path, markets, settings) -> None:
    path = tmp_path / "tricky.csv"
    path.write_text("id,title,price\n" + TRICKY_ROWS, encoding="utf-8")
    assert_same_read(path, markets, **settings)


def test_fused_tricky_items(tmp_path) -> None:
    path = tmp_path / "tricky.csv"
    path.write_text("id,title,price\n" + TRICKY_ROWS, encoding="utf-8")
    items = assert_same_read(path, MARKET_SETS["one"], currency="USD")
    found = {(item.product, item.title, item.purchase_amount, item.source) for item in items}
    assert ("p1", "Widget", 1999, "tricky.csv:2") in found
    assert ("p3", "Thing", 1999, "tricky.csv:4") in found
    assert ("p8", "Rounded", 101, "tricky.csv:11") in found
    assert ("p11", "Two\nlines", 1999, "tricky.csv:17") in found
    assert ("p12", "Code", 700, "tricky.csv:19") in found
    assert ("p17", "", 300, "tricky.csv:25") in found
    assert ("p18", "Spaces", 450, "tricky.csv:26") in found
    assert len(items) == 14


def test_fused_column_order_and_no_title(tmp_path) -> None:
    path = tmp_path / "reordered.csv"
    path.write_text("price;name;sku\n19.99;A;a1\n19.99;B;b1\n5;;c1\n;D;d1\n5\n", encoding="utf-8")
    mapping = {"product_id": "sku", "title": None}
    items = assert_same_read(path, MARKET_SETS["two"], currency="USD", mapping=mapping)
    assert [(item.product, item.title, item.purchase_amount) for item in items[::2]] == [
        ("a1", "", 1999),
        ("b1", "", 1999),
        ("c1", "", 500),
    ]


def test_fused_missing_title_column(tmp_path) -> None:
    path = tmp_path / "untitled.csv"
    path.write_text("id,price\nx,2.50\ny,2.50\n", encoding="utf-8")
    items = assert_same_read(path, MARKET_SETS["one"], currency="USD")
    assert [item.title for item in items] == ["", ""]


def test_fused_minor_units(tmp_path) -> None:
    path = tmp_path / "cents.csv"
    path.write_text("id,title,price\na,A,1999\nb,B,1999\nc,C,19.99\nd,D,0\ne,E, 1999 \n", encoding="utf-8")
    mapping = {"price_in_minor_units": True}
    items = assert_same_read(path, MARKET_SETS["two"], currency="USD", mapping=mapping)
    assert [item.purchase_amount for item in items] == [1999] * 6


def test_fused_cache_cleared_when_full(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fused, "MAX_CACHED_PRICES", 2)
    path = tmp_path / "many.csv"
    rows = "".join(f"p{number},T{number},{number % 5 + 1}.99\n" for number in range(40))
    path.write_text("id,title,price\n" + rows, encoding="utf-8")
    items = assert_same_read(path, MARKET_SETS["two"], currency="USD")
    assert len(items) == 80
    assert items[-1].purchase_amount == 599


def test_fused_cached_rows_skip_offers(tmp_path, monkeypatch) -> None:
    calls = []

    def counting_row_offer(*args: object):
        calls.append(args[2])
        return original(*args)

    original = fused.csv_row_offer
    monkeypatch.setattr(fused, "csv_row_offer", counting_row_offer)
    path = tmp_path / "same.csv"
    path.write_text("id,title,price\n" + "".join(f"p{n},T,9.99\n" for n in range(50)) + "bad,T,x\n", encoding="utf-8")
    items, report = read_fused(path, MARKET_SETS["two"], currency="USD")
    assert len(items) == 100
    assert calls == [52]
    assert report.rows_read == 51
    assert report.items_priced == 100
    assert report.skipped_by_reason["invalid price"] == 1


def test_fused_market_column_general_path(tmp_path) -> None:
    path = tmp_path / "columns.csv"
    path.write_text("id,title,price,price_es\na,A,10.00,9.00\nb,B,10.00,\n", encoding="utf-8")
    markets = [MarketSettings(locale="en-US"), MarketSettings(locale="es-US", price_column="price_es")]
    items = assert_same_read(path, markets, currency="USD")
    assert [(item.product, item.locale, item.purchase_amount) for item in items] == [
        ("a", "en-US", 1000),
        ("a", "es-US", 900),
        ("b", "en-US", 1000),
        ("b", "es-US", 1000),
    ]


def test_priced_item_keywords_and_defaults() -> None:
    item = PricedItem(product="p", variant=None, title="T", locale="en-US", purchase_amount=5, source="f.csv:2")
    assert item.sku is None
    assert item.price_changes_at is None
    assert item.purchase_amount == 5
    assert item.source == "f.csv:2"


def test_priced_item_equality_and_hash() -> None:
    when = datetime(2024, 6, 1, tzinfo=UTC)
    first = PricedItem("p", "v", "T", "en-US", 5, "f.csv:2", "sku", when)
    second = PricedItem(
        product="p", variant="v", title="T", locale="en-US", purchase_amount=5, source="f.csv:2", sku="sku",
        price_changes_at=when,
    )
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1
    assert first != second._replace(purchase_amount=6)


def test_priced_item_immutable() -> None:
    item = PricedItem("p", None, "T", "en-US", 5, "f.csv:2")
    with pytest.raises(AttributeError):
        item.purchase_amount = 6  # type: ignore[misc]


@pytest.mark.parametrize("markets", [MARKET_SETS["one"], MARKET_SETS["two"]], ids=["one", "two"])
def test_fused_variant_and_sku_columns(tmp_path, markets) -> None:
    path = tmp_path / "variants.csv"
    path.write_text(
        "id,variant_id,sku,title,price\n"
        "p1,v1,S-1,Shirt,19.99\n"
        "p1,v2,,Shirt,19.99\n"
        "p1, ,S-3,Shirt,abc\n"
        "p2,,S-4,Hat,5\n"
        "p3,v9\n",
        encoding="utf-8",
    )
    items = assert_same_read(
        path, markets, currency="USD", mapping={"variant_id": "variant_id", "sku": "sku"}
    )
    first = [(item.product, item.variant, item.sku, item.purchase_amount) for item in items if item.locale == "en-US"]
    assert first == [("p1", "v1", "S-1", 1999), ("p1", "v2", None, 1999), ("p2", None, "S-4", 500)]
