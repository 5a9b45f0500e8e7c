"""File handling: encodings, delimiters, line numbers, format detection and row-error logging."""

from __future__ import annotations

import logging

import pytest
from conftest import DATA, read

from osm_build.errors import CatalogError


def test_utf8_bom_first_column() -> None:
    items, report = read(DATA / "bom.csv", ("de-DE",), currency="EUR", mapping={"product_id": "id"})
    assert report.format == "csv"
    assert [(item.product, item.purchase_amount) for item in items] == [("p1", 1250)]


def test_utf16_semicolon_crlf(tmp_path) -> None:
    path = tmp_path / "excel.csv"
    text = "id;title;price\r\nä1;Äpfel;2,50\r\n\r\nb2;Birne\r\nc3;\"Kirsche\r\nrot\";3,00"
    path.write_bytes(text.encode("utf-16"))
    items, report = read(path, ("de-DE",), currency="EUR", format="csv")
    assert [(item.product, item.purchase_amount, item.source) for item in items] == [
        ("ä1", 250, "excel.csv:2"),
        ("c3", 300, "excel.csv:5"),
    ]
    assert report.rows_read == 3  # the empty line is not a row
    assert report.skipped_by_reason["missing price"] == 1  # the ragged row b2
    assert report.errors[0].line == 4


def test_tab_delimiter_sniffed(tmp_path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("id\ttitle\tprice\nx\tX, with comma\t5.00\n", encoding="utf-8")
    items, _ = read(path, ("de-DE",), currency="EUR", format="csv")
    assert items[0].title == "X, with comma"


def test_invalid_utf8_raises(tmp_path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("id,title,price\nx,Caf\xe9,5.00\n".encode("latin-1"))
    with pytest.raises(CatalogError, match="catalog.encoding"):
        read(path, ("de-DE",), currency="EUR", format="csv")
    items, _ = read(path, ("de-DE",), currency="EUR", format="csv", encoding="latin-1")
    assert items[0].title == "Café"


def test_missing_file_raises(tmp_path) -> None:
    with pytest.raises(CatalogError, match="Cannot open the catalog export"):
        read(tmp_path / "nope.csv", currency="EUR")


def test_unrecognised_format_message(tmp_path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("article;cost\n1;2\n", encoding="utf-8")
    with pytest.raises(CatalogError) as caught:
        read(path, currency="EUR")
    message = str(caught.value)
    assert "not recognised" in message
    assert "woocommerce" in message
    assert "google-xml" in message
    assert "mapping:" in message
    assert "product_id:" in message


def test_auto_logs_choice(tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="osm_build.catalog")
    read(DATA / "atom_feed.xml", ("sv-SE",))
    assert any("format auto chose google-xml" in record.getMessage() for record in caplog.records)


def test_row_errors_logged_then_summarised(tmp_path, caplog) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,title,price\n" + "".join(f"p{n},T,abc\n" for n in range(25)), encoding="utf-8")
    caplog.set_level(logging.WARNING, logger="osm_build.catalog")
    items, report = read(path, ("de-DE",), currency="EUR", format="csv")
    assert items == []
    assert report.skipped_by_reason["invalid price"] == 25
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 21
    assert "bad.csv:2, column 'price', value 'abc'" in warnings[0]
    assert "5 more catalog row errors" in warnings[-1]
