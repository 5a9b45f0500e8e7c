"""WooCommerce: variable parents, number notations, sale windows and visibility."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import DATA, read

WOO = DATA / "woo_variable.csv"


def by_id(items):
    return {(item.product, item.variant): item for item in items}


def test_variable_parent_variations() -> None:
    items, _ = read(WOO, currency="USD", number_locale="en")
    found = by_id(items)
    assert found[("10", "11")].purchase_amount == 2000
    assert found[("10", "12")].purchase_amount == 2000
    assert found[("10", "13")].purchase_amount == 1500  # Parent given as id:10
    assert not any(item.product == "10" and item.variant is None for item in items)


def test_variation_before_parent() -> None:
    items, report = read(WOO, currency="USD", number_locale="en")
    assert by_id(items)[("30", "31")].purchase_amount == 9900
    assert report.skipped_by_reason["parent not found"] == 0


def test_comma_decimal_price() -> None:
    items, _ = read(WOO, currency="USD")
    assert by_id(items)[("20", None)].purchase_amount == 1999


def test_ambiguous_price_reported() -> None:
    items, report = read(WOO, currency="USD")
    assert ("21", None) not in by_id(items)
    assert report.skipped_by_reason["ambiguous price"] == 1
    error = next(error for error in report.errors if "ambiguous" in error.reason)
    assert error.file == "woo_variable.csv"
    assert error.line == 7
    assert error.column == "Regular price"
    assert error.value == "1,800"


def test_number_locale_en_and_de() -> None:
    items_en, _ = read(WOO, currency="USD", number_locale="en")
    items_de, _ = read(WOO, currency="USD", number_locale="de")
    assert by_id(items_en)[("21", None)].purchase_amount == 180000
    assert by_id(items_de)[("21", None)].purchase_amount == 180


def test_hidden_and_unpublished_left_out() -> None:
    items, report = read(WOO, currency="USD", number_locale="en")
    assert ("22", None) not in by_id(items)
    assert ("23", None) not in by_id(items)
    assert report.excluded_unpublished == 2


def test_include_unpublished() -> None:
    items, report = read(WOO, currency="USD", number_locale="en", include_unpublished=True)
    assert by_id(items)[("22", None)].purchase_amount == 800
    assert by_id(items)[("23", None)].purchase_amount == 1200
    assert report.excluded_unpublished == 0


def test_sale_window_ended() -> None:
    items, _ = read(WOO, currency="USD", number_locale="en")
    belt = by_id(items)[("24", None)]
    assert belt.purchase_amount == 4000
    assert belt.price_changes_at is None


def test_sale_window_future() -> None:
    items, _ = read(WOO, currency="USD", number_locale="en")
    cap = by_id(items)[("25", None)]
    assert cap.purchase_amount == 900
    assert cap.price_changes_at == datetime(2024, 6, 1, tzinfo=UTC)


def test_sale_window_open() -> None:
    now = datetime(2024, 6, 10, tzinfo=UTC)
    items, _ = read(WOO, currency="USD", number_locale="en", now=now)
    cap = by_id(items)[("25", None)]
    assert cap.purchase_amount == 500
    assert cap.price_changes_at == datetime(2024, 7, 1, tzinfo=UTC)  # end of 2024-06-30


def test_grouped_has_no_item() -> None:
    items, report = read(WOO, currency="USD", number_locale="en")
    assert ("26", None) not in by_id(items)
    assert report.skipped_by_reason["grouped product (no price)"] == 1


def test_orphan_variation_reported(tmp_path) -> None:
    path = tmp_path / "orphan.csv"
    path.write_text(
        "ID,Type,SKU,Name,Published,Visibility in catalog,Sale price,Regular price,Parent\n"
        "5,variation,x-1,X,1,visible,,10,missing-parent\n",
        encoding="utf-8",
    )
    items, report = read(path, currency="USD")
    assert items == []
    assert report.skipped_by_reason["parent not found"] == 1


def test_ragged_rows_and_absent_columns(tmp_path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text(
        "ID,Type,Name,Published,Regular price,Sale price,Date sale price ends\n"
        "1,simple,Short row,1,12.00\n"
        "2,simple,Long row, 1 ,13.00,,,extra,cells\n"
        "3,simple,Blank published, ,14.00\n"
        "4,simple,Draft,0,15.00\n"
        "5,simple,Sale,1,20.00,10.00,2024-04-30\n"
        "6,simple,Bad date,1,20.00,10.00,soon\n",
        encoding="utf-8",
    )
    items, report = read(path, currency="USD")
    assert [(item.product, item.title, item.purchase_amount) for item in items] == [
        ("1", "Short row", 1200),
        ("2", "Long row", 1300),
        ("3", "Blank published", 1400),
        ("5", "Sale", 2000),
    ]
    assert items[0].sku is None
    assert report.excluded_unpublished == 1
    assert report.skipped_by_reason["invalid sale date"] == 1
    assert report.errors[0].column == "Date sale price ends"
    assert report.errors[0].line == 7
