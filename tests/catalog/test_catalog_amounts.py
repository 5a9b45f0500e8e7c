"""Amount parsing: notations, number_locale, rounding and rejected values."""

from __future__ import annotations

import pytest

from osm_build.catalog.amounts import AmountError, parse_price


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("1,600.00", "USD", (160000, "USD")),
        ("1.600,00", "EUR", (160000, "EUR")),
        ("1 299,00 kr", "SEK", (129900, "SEK")),
        ("99,99 SEK", None, (9999, "SEK")),
        ("99.99 SEK", None, (9999, "SEK")),
        ("SEK 100", None, (10000, "SEK")),
        ("1.144.000 SEK", None, (114400000, "SEK")),
        ("10,000.00 SEK", None, (1000000, "SEK")),
        ("10 000.00 SEK", None, (1000000, "SEK")),
        ("19,99", "EUR", (1999, "EUR")),
        ("0,500", "EUR", (50, "EUR")),
        ("100 JPY", None, (100, "JPY")),
        ("1.5 KWD", None, (1500, "KWD")),
    ],
)
def test_parse_price_notation(text: str, currency: str | None, expected: tuple[int, str]) -> None:
    assert parse_price(text, currency, None) == expected


def test_comma_thousands_ambiguous() -> None:
    with pytest.raises(AmountError) as caught:
        parse_price("1,800", "USD", None)
    assert caught.value.key == "ambiguous price"


def test_dot_thousands_ambiguous() -> None:
    with pytest.raises(AmountError) as caught:
        parse_price("10.000 SEK", None, None)
    assert caught.value.key == "ambiguous price"


def test_number_locale_en() -> None:
    assert parse_price("1,800", "USD", "en") == (180000, "USD")


def test_number_locale_de() -> None:
    assert parse_price("1,800", "EUR", "de") == (180, "EUR")
    assert parse_price("10.000 SEK", None, "de") == (1000000, "SEK")


def test_rounding_round_half_up() -> None:
    # ROUND_HALF_UP: 15.005 EUR is 15.01 EUR (ROUND_HALF_EVEN would give 15.00).
    assert parse_price("15.005 EUR", None, "en") == (1501, "EUR")
    assert parse_price("15.015", "EUR", "en") == (1502, "EUR")
    assert parse_price("15,0049", "EUR", None) == (1500, "EUR")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "missing price"),
        ("   ", "missing price"),
        ("0", "zero price"),
        ("0.00 SEK", "zero price"),
        ("-10 SEK", "negative price"),
        ("foo SEK", "invalid price"),
        ("10.0.00.00 SEK", "invalid price"),
        ("3.65275E+11", "invalid price"),
        ("12 XXQ", "invalid price"),
        ("1,2,3", "invalid price"),
    ],
)
def test_parse_price_rejects(text: str, key: str) -> None:
    with pytest.raises(AmountError) as caught:
        parse_price(text, "SEK", None)
    assert caught.value.key == key


def test_missing_currency() -> None:
    with pytest.raises(AmountError) as caught:
        parse_price("1000", None, None)
    assert caught.value.key == "missing currency"
    assert "catalog.currency" in str(caught.value)
