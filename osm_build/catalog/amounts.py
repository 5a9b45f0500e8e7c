"""Parse catalog price text into integer minor units of a currency.

A price is a number with an optional ISO 4217 code before or after it (``99,99 SEK``,
``SEK 100``) or a currency symbol that names no single currency (``1 299,00 kr``, ``€ 5``).
The decimal separator is read from the notation when only one reading is possible:

* ``1,600.00`` and ``1.600,00``: with both ``.`` and ``,`` the last one is the decimal separator.
* ``1.144.000`` and ``10 000.00``: a separator used twice, a space or an apostrophe groups
  thousands.
* ``19,99`` and ``99.5``: a single ``.`` or ``,`` followed by other than three digits is the
  decimal separator, and so is one after a group too long for thousands (``1234,567``) or after a
  lone ``0`` (``0,500``).

A single ``.`` or ``,`` followed by exactly three digits (``1,800``, ``10.000 SEK``) can be a
decimal or a thousands separator. The Babel locale in ``catalog.number_locale`` decides it (with
``de``, ``1,800`` is 1.8; with ``en``, 1800), and without one the value is rejected as ambiguous.

The number of minor digits per currency comes from ISO 4217 through Babel, so JPY has none and
KWD three. A price with more decimals than its currency allows is rounded with ROUND_HALF_UP:
``15.005 EUR`` becomes 15.01 EUR, 1501 minor units.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, lru_cache

from babel import Locale
from babel.numbers import (
    get_currency_precision,
    get_decimal_symbol,
    get_group_symbol,
    is_currency,
)

ROUNDING = ROUND_HALF_UP

# The largest purchase amount osm-build sends, in minor units (10,000,000,000.00 in a currency
# with two decimals). Larger values are data errors, and SQLite integers stop at 2**63 - 1.
MAX_PURCHASE_AMOUNT = 1_000_000_000_000

_PRICE = re.compile(
    r"""\s*
    (?P<before>[A-Za-z]{3}|kr\.?|[€$£])?\s*
    (?P<sign>[-+\u2212])?\s*
    (?P<number>[\d.,'\s\u00a0\u202f]*\d[\d.,'\s\u00a0\u202f]*?)\s*
    (?P<after>[A-Za-z]{3}|kr\.?|:-|,-|[€$£])?\s*""",
    re.VERBOSE,
)
_SEPARATOR = re.compile(r"([.,'\s\u00a0\u202f])")
_PLAIN_DECIMAL = re.compile(r"\d+(?:\.\d{1,2})?")
_SPACE_GROUPS = frozenset(" '\u00a0\u202f")


class AmountError(ValueError):
    """Raised when price text is not a usable positive amount.

    Attributes:
        key: a short reason used to count skipped rows, such as ``"ambiguous price"``.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@cache
def currency_precision(currency: str) -> int:
    """Return the number of minor digits of an ISO 4217 currency (2 for EUR, 0 for JPY)."""
    return get_currency_precision(currency)


@cache
def _locale_separators(number_locale: str) -> tuple[str, str]:
    locale = Locale.parse(number_locale)
    return get_decimal_symbol(locale), get_group_symbol(locale)


def parse_price(text: str, currency: str | None, number_locale: str | None) -> tuple[int, str]:
    """Parse price text into minor units and the currency it is in.

    Args:
        text: the price as written in the export.
        currency: the currency to assume when the text names none.
        number_locale: a Babel locale that decides ambiguous separators, or None.

    Returns:
        The amount in minor units and the ISO 4217 currency.

    Raises:
        AmountError: the text is empty, not a number, ambiguous, zero or negative, or no
            currency is known.
    """
    if currency is not None and _PLAIN_DECIMAL.fullmatch(text):
        # Digits with at most two decimals need no rounding in a currency with two or more.
        precision = currency_precision(currency)
        whole, _, fraction = text.partition(".")
        if len(fraction) <= precision:
            minor = int(whole + fraction.ljust(precision, "0"))
            if minor == 0:
                raise AmountError("zero price", f"the price {text} {currency} is zero")
            if minor > MAX_PURCHASE_AMOUNT:
                raise AmountError("price too large", f"the price {text} {currency} is larger than any real price")
            return minor, currency
        value = Decimal(text)
    else:
        code, value = _split_and_parse(text, number_locale)
        if code is not None:
            currency = code
    if currency is None:
        raise AmountError(
            "missing currency",
            f"the price {text!r} names no currency and catalog.currency is not set; "
            "set catalog.currency to the export's ISO 4217 currency, such as EUR",
        )
    return to_minor_units(value, currency), currency


# Catalogs repeat price texts. An AmountError is not cached, so invalid text raises on every call.
# The fused generic CSV loop keeps its own cache and calls parse_price, because a miss in this
# cache costs about as much again as the parse.
parse_price_cached = lru_cache(maxsize=65536)(parse_price)


def _split_and_parse(text: str, number_locale: str | None) -> tuple[str | None, Decimal]:
    stripped = text.strip()
    if not stripped:
        raise AmountError("missing price", "the price is empty")
    match = _PRICE.fullmatch(stripped)
    if match is None:
        raise AmountError("invalid price", f"{text!r} is not a price such as 12.50 or 99,99 SEK")
    before, after = match["before"], match["after"]
    if before and after:
        raise AmountError("invalid price", f"{text!r} has a currency both before and after the number")
    code = None
    for token in (before, after):
        if token and len(token) == 3 and token.isalpha():
            if not is_currency(token.upper()):
                raise AmountError("invalid price", f"{token!r} in {text!r} is not an ISO 4217 currency code")
            code = token.upper()
    if match["sign"] in ("-", "\u2212"):
        raise AmountError("negative price", f"the price {text!r} is negative")
    return code, parse_number(match["number"], number_locale)


def parse_number(number: str, number_locale: str | None) -> Decimal:
    """Parse digits with thousands and decimal separators as described in the module docstring.

    Raises:
        AmountError: the separators do not form a number, or their reading is ambiguous.
    """
    parts = _SEPARATOR.split(number.strip())
    chunks = parts[0::2]
    separators = parts[1::2]
    if not separators:
        return Decimal(chunks[0])
    if any(not chunk for chunk in chunks):
        raise AmountError("invalid price", f"{number!r} has separators in a row or at an end")

    decimal_index = _decimal_separator_index(number, chunks, separators, number_locale)
    last_group = decimal_index if decimal_index is not None else len(separators)
    group_symbols = set(separators[:last_group])
    if len(group_symbols) > 1 and not group_symbols <= _SPACE_GROUPS:
        raise AmountError("invalid price", f"{number!r} mixes thousands separators")
    if decimal_index is not None and separators[decimal_index] in group_symbols:
        raise AmountError("invalid price", f"{number!r} uses one symbol for thousands and decimals")
    for chunk in chunks[1 : last_group + 1]:
        if len(chunk) != 3:
            raise AmountError("invalid price", f"{number!r} has a thousands group of other than 3 digits")
    if len(chunks[0]) > 3 and last_group > 0:
        raise AmountError("invalid price", f"{number!r} has a thousands group of more than 3 digits")

    integer = "".join(chunks[: last_group + 1])
    if decimal_index is None:
        return Decimal(integer)
    return Decimal(f"{integer}.{chunks[-1]}")


def _decimal_separator_index(
    number: str, chunks: list[str], separators: list[str], number_locale: str | None
) -> int | None:
    """Return the index in ``separators`` of the decimal separator, or None for an integer."""
    last = len(separators) - 1
    symbol = separators[last]
    if symbol in _SPACE_GROUPS:
        return None
    if separators.count(symbol) > 1:
        return None
    other = "," if symbol == "." else "."
    if other in separators:
        return last
    if len(chunks[-1]) != 3:
        return last
    if chunks[0] == "0" or len(chunks[0]) > 3 or any(s in _SPACE_GROUPS for s in separators):
        return last
    if number_locale is None:
        raise AmountError(
            "ambiguous price",
            f"{number!r} can be read with {symbol!r} as a decimal or a thousands separator; "
            "set catalog.number_locale (for example 'en' or 'de') or write the price with decimals",
        )
    decimal_symbol, group_symbol = _locale_separators(number_locale)
    if symbol == decimal_symbol:
        return last
    if symbol == group_symbol:
        return None
    raise AmountError(
        "ambiguous price",
        f"{number!r} uses {symbol!r}, which number_locale {number_locale!r} uses for neither "
        "decimals nor thousands",
    )


def to_minor_units(value: Decimal, currency: str) -> int:
    """Convert a positive amount to minor units, rounding with ROUND_HALF_UP.

    Raises:
        AmountError: the amount is zero or negative.
    """
    try:
        minor = int((value.scaleb(currency_precision(currency))).to_integral_value(ROUNDING))
    except InvalidOperation:
        raise AmountError("invalid price", f"{value!r} is not a finite number") from None
    if minor < 0:
        raise AmountError("negative price", f"the price {value} {currency} is negative")
    if minor == 0:
        raise AmountError("zero price", f"the price {value} {currency} is zero")
    if minor > MAX_PURCHASE_AMOUNT:
        raise AmountError("price too large", f"the price {value} {currency} is larger than any real price")
    return minor


def parse_minor_units(text: str | int) -> int:
    """Parse an amount that the export already stores in minor units, such as ``52000``.

    Raises:
        AmountError: the value is not a whole positive number.
    """
    if isinstance(text, bool):
        raise AmountError("invalid price", f"{text!r} is not an amount in minor units")
    if isinstance(text, int):
        minor = text
    else:
        stripped = text.strip()
        if not stripped:
            raise AmountError("missing price", "the price is empty")
        try:
            minor = int(stripped)
        except ValueError:
            raise AmountError(
                "invalid price", f"{text!r} is not a whole amount in minor units such as 52000"
            ) from None
    if minor < 0:
        raise AmountError("negative price", f"the price {minor} (minor units) is negative")
    if minor == 0:
        raise AmountError("zero price", "the price is zero")
    if minor > MAX_PURCHASE_AMOUNT:
        raise AmountError("price too large", f"the price {minor} (minor units) is larger than any real price")
    return minor
