"""Read every real export in the shared catalogs folder and check exact counts and amounts."""

from __future__ import annotations

from pathlib import Path

from conftest import read


def amounts(items, locale):
    return [item.purchase_amount for item in items if item.locale == locale]


def test_woocommerce_sample(shared: Path) -> None:
    items, report = read(shared / "woocommerce_sample_products.csv", currency="USD")
    assert report.format == "woocommerce"
    assert report.rows_read == 25
    assert report.items_priced == 21
    assert report.excluded_unpublished == 1  # "Hoodie with Pocket" is hidden
    by_id = {(item.product, item.variant): item.purchase_amount for item in items}
    assert by_id[("44", "76")] == 2000
    assert by_id[("44", "77")] == 2000
    assert by_id[("44", "78")] == 1500
    assert ("44", None) not in by_id
    assert ("87", None) not in by_id  # grouped, no price
    assert by_id[("48", None)] == 1800  # sale 18 against 20, no dates
    assert by_id[("45", "79")] == 4200  # sale 42 against 45
    assert by_id[("89", None)] == 1105  # external product with a price
    assert by_id[("75", None)] == 200
    variations = [item for item in items if item.variant is not None]
    assert len(variations) == 7
    assert {item.product for item in variations} == {"44", "45"}
    assert items[0].source == "woocommerce_sample_products.csv:4"


def test_woocommerce_sample_eur_market(shared: Path) -> None:
    items, report = read(shared / "woocommerce_sample_products.csv", ("de-DE",), currency="USD")
    assert items == []
    assert report.market_mismatches == 21


def test_shopify_csv_sample(shared: Path) -> None:
    items, report = read(shared / "shopify_product_template.csv", currency="USD")
    assert report.format == "shopify"
    assert report.rows_read == 17
    assert len(items) == 12
    assert {item.product for item in items} == {"example-shirt"}
    assert set(amounts(items, "en-US")) == {2500}
    assert report.excluded_unpublished == 4  # 3 draft jeans variants and the archived beanie
    assert items[0].variant == "SRT_COT_111"
    assert items[0].title == "Example T-Shirt - Green / S"


def test_shopify_csv_sample_unpublished(shared: Path) -> None:
    items, report = read(shared / "shopify_product_template.csv", currency="USD", include_unpublished=True)
    by_product: dict[str, list[int]] = {}
    for item in items:
        by_product.setdefault(item.product, []).append(item.purchase_amount)
    assert by_product["example-pants"] == [9500, 9500, 9500]  # compare-at 64.95 is below 95
    assert by_product["example-hat"] == [1799]  # a real sale: 17.99 against 22.99
    hat = next(item for item in items if item.product == "example-hat")
    assert hat.variant is None
    assert report.excluded_unpublished == 0


def test_shopify_market_column_empty(shared: Path) -> None:
    from osm_build.catalog.settings import MarketSettings

    market = MarketSettings(locale="en-US", price_column="Price / United States")
    items, _ = read(shared / "shopify_product_template.csv", markets=[market], currency="USD")
    assert len(items) == 12
    assert set(amounts(items, "en-US")) == {2500}


def test_prisjakt_xml(shared: Path) -> None:
    items, report = read(shared / "prisjakt_feed_sample.xml", ("sv-SE", "en-US"))
    assert report.format == "google-xml"
    assert report.rows_read == 3
    assert [(item.product, item.variant, item.purchase_amount) for item in items] == [
        ("aaa111", "sv-2131.prod-1", 114400000),  # 1.144.000 SEK; the 2016 sale has ended
        ("aBCd1123", None, 9999),
        ("aBCd-1123", None, 9999),
    ]
    assert items[0].price_changes_at is None
    assert items[0].source == "prisjakt_feed_sample.xml:/rss/channel/item[1]"
    assert report.market_mismatches == 3


def test_prisjakt_csv(shared: Path) -> None:
    items, report = read(shared / "prisjakt_feed_sample.csv", ("sv-SE",))
    assert report.format == "google-csv"
    assert [(item.product, item.variant, item.purchase_amount) for item in items] == [
        ("aaa111", "a b./)(", 114400000)
    ]


def test_magento_sample(shared: Path) -> None:
    items, report = read(shared / "magento2_import_configurable_product_multistore.csv", currency="USD")
    assert report.format == "magento"
    assert report.rows_read == 4
    assert [(item.product, item.variant, item.purchase_amount) for item in items] == [
        ("import-configurable", "import-configurable-option-1", 1499),
        ("import-configurable", "import-configurable-option-2", 1499),
    ]
    assert report.rows_skipped == 0


def test_commercetools_sample(shared: Path) -> None:
    items, report = read(
        shared / "commercetools_sunrise_products.head.csv", ("de-DE", "en-US", "fr-FR", "en-GB", "da-DK")
    )
    assert report.format == "commercetools"
    assert report.rows_read == 20
    products = {item.product for item in items}
    assert len(products) == 5
    assert len({(item.product, item.variant) for item in items}) == 20
    first = [item for item in items if item.source.endswith(":2")]
    assert {item.locale: item.purchase_amount for item in first} == {
        "de-DE": 15000,  # DE-EUR
        "en-US": 18750,  # US-USD
        "fr-FR": 18750,  # unscoped EUR
    }
    assert report.market_mismatches == 40  # en-GB (GBP) and da-DK (DKK) for 20 variants


def test_commercetools_channel(shared: Path) -> None:
    items, _ = read(
        shared / "commercetools_sunrise_products.head.csv", ("de-DE",), price_channel="sunrise-store-berlin"
    )
    assert items[0].purchase_amount == 15450


def test_shopify_json_sample(shared: Path) -> None:
    items, report = read(shared / "shopify_theme_product_object_cents.json", currency="USD")
    assert report.format == "shopify-json"
    assert [item.purchase_amount for item in items] == [52000, 60000, 55000, 56000, 57000, 58000, 52000, 53000]
    assert {item.product for item in items} == {"ratio-eight"}
    assert items[0].variant == "20230103745"
