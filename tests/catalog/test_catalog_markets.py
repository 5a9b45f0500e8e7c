"""Market rules: currency mismatches, net prices with tax, and per-market price columns."""

from __future__ import annotations

from decimal import Decimal

from conftest import read

from osm_build.catalog.settings import MarketSettings


def write_eur(tmp_path):
    path = tmp_path / "eur.csv"
    path.write_text("id,title,price\np1,Lamp,19.99\n", encoding="utf-8")
    return path


def test_eur_price_for_da_dk(tmp_path) -> None:
    items, report = read(write_eur(tmp_path), ("da-DK", "de-DE"), currency="EUR")
    assert [item.locale for item in items] == ["de-DE"]
    assert report.market_mismatches == 1
    assert report.skipped_by_reason["market mismatch"] == 1
    assert report.errors[0].reason == "market mismatch: price is EUR but da-DK requires DKK"


def test_net_price_with_tax_rate(tmp_path) -> None:
    market = MarketSettings(locale="de-DE", prices_include_tax=False, tax_rate_percent=Decimal(19))
    items, _ = read(write_eur(tmp_path), markets=[market], currency="EUR")
    assert items[0].purchase_amount == 2379  # 1999 * 1.19 = 2378.81, ROUND_HALF_UP


def test_net_price_without_rate(tmp_path) -> None:
    market = MarketSettings(locale="de-DE", prices_include_tax=False)
    items, report = read(write_eur(tmp_path), markets=[market], currency="EUR")
    assert items == []
    assert report.skipped_by_reason["net price"] == 1
    assert "tax_rate_percent" in report.errors[0].reason


def test_price_column_for_market(tmp_path) -> None:
    path = tmp_path / "markets.csv"
    path.write_text("id,price,price_dk\np1,10.00,75.00\n", encoding="utf-8")
    markets = [MarketSettings(locale="de-DE"), MarketSettings(locale="da-DK", price_column="price_dk")]
    items, report = read(path, markets=markets, currency="EUR", format="csv", mapping={"title": None})
    assert [(item.locale, item.purchase_amount) for item in items] == [("de-DE", 1000), ("da-DK", 7500)]
    assert report.market_mismatches == 0


def test_price_column_empty_falls_back(tmp_path) -> None:
    path = tmp_path / "markets.csv"
    path.write_text("id,price,price_dk\np1,10.00,\n", encoding="utf-8")
    markets = [MarketSettings(locale="da-DK", price_column="price_dk")]
    items, report = read(path, markets=markets, currency="EUR", format="csv", mapping={"title": None})
    assert items == []
    assert report.errors[0].reason == "market mismatch: price is EUR but da-DK requires DKK"
