"""Message texts and content nodes of the emulated OSM responses.

Amounts are formatted with Babel in the currency of the locale's country. Texts come from a small
per-language table and fall back to English; they imitate the tone of Klarna's messages but are
written for the emulator, and every response carries a node that says it is not from Klarna.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_precision

from osm_build.locales import babel_locale, currency_for_locale

CREDIT_PROMOTION = "credit-promotion-badge"
TOP_STRIP_PROMOTION = "top-strip-promotion-badge"
PLACEMENT_KEYS = (CREDIT_PROMOTION, TOP_STRIP_PROMOTION)

INSTALMENTS = 4

# Purchase amounts, in minor units, that the emulated "pay in 4" offer covers per currency.
# NOTE: Klarna does not publish its ranges per market; these are plausible values, not Klarna's.
FINANCING_RANGES: dict[str, tuple[int, int]] = {
    "USD": (3_500, 100_000),
    "CAD": (3_500, 150_000),
    "MXN": (10_000, 2_000_000),
    "AUD": (3_500, 200_000),
    "NZD": (3_500, 200_000),
    "EUR": (100, 150_000),
    "GBP": (3_000, 100_000),
    "CHF": (100, 150_000),
    "CZK": (10_000, 3_000_000),
    "DKK": (100, 1_000_000),
    "NOK": (100, 1_500_000),
    "PLN": (3_500, 600_000),
    "SEK": (100, 1_500_000),
}

DISCLAIMER = "Emulated by osm-build. Not an offer from Klarna."


@dataclass(frozen=True)
class Phrasing:
    """Texts of one language; ``{amount}``, ``{low}`` and ``{high}`` are formatted amounts."""

    instalment: str
    range: str
    learn_more: str
    badge_alt: str = "Klarna"


PHRASINGS: dict[str, Phrasing] = {
    "en": Phrasing(
        "Make 4 payments of {amount}. No fees.",
        "Pay in 4 interest-free payments on purchases of {low}-{high}.",
        "Learn more",
    ),
    "de": Phrasing(
        "Bezahle in 4 Raten à {amount}. Keine Gebühren.",
        "Bezahle in 4 zinsfreien Raten bei Einkäufen von {low} bis {high}.",
        "Mehr erfahren",
    ),
    "sv": Phrasing(
        "Betala i 4 delar om {amount}. Inga avgifter.",
        "Betala i 4 räntefria delar vid köp från {low} till {high}.",
        "Läs mer",
    ),
    "fr": Phrasing(
        "Payez en 4 versements de {amount}. Sans frais.",
        "Payez en 4 versements sans intérêts pour les achats de {low} à {high}.",
        "En savoir plus",
    ),
    "nl": Phrasing(
        "Betaal in 4 termijnen van {amount}. Geen kosten.",
        "Betaal in 4 renteloze termijnen bij aankopen van {low} tot {high}.",
        "Meer informatie",
    ),
    "es": Phrasing(
        "Paga en 4 plazos de {amount}. Sin comisiones.",
        "Paga en 4 plazos sin intereses en compras de {low} a {high}.",
        "Más información",
    ),
    "it": Phrasing(
        "Paga in 4 rate da {amount}. Senza costi.",
        "Paga in 4 rate senza interessi per acquisti da {low} a {high}.",
        "Scopri di più",
    ),
    "da": Phrasing(
        "Betal i 4 rater á {amount}. Ingen gebyrer.",
        "Betal i 4 rentefri rater ved køb fra {low} til {high}.",
        "Læs mere",
    ),
    "nb": Phrasing(
        "Betal i 4 avdrag på {amount}. Ingen gebyrer.",
        "Betal i 4 rentefrie avdrag ved kjøp fra {low} til {high}.",
        "Les mer",
    ),
    "pl": Phrasing(
        "Zapłać w 4 ratach po {amount}. Bez opłat.",
        "Zapłać w 4 nieoprocentowanych ratach przy zakupach od {low} do {high}.",
        "Dowiedz się więcej",
    ),
    "pt": Phrasing(
        "Pague em 4 prestações de {amount}. Sem taxas.",
        "Pague em 4 prestações sem juros em compras de {low} a {high}.",
        "Saiba mais",
    ),
}


@dataclass(frozen=True)
class LocaleFormat:
    """Formatting data of one API locale, looked up once per locale."""

    currency: str
    precision: int
    babel: Locale
    phrasing: Phrasing
    financing_range: tuple[int, int]

    def format_amount(self, minor_units: int) -> str:
        """Format an amount in minor units in the locale's currency, e.g. 3000 as ``$30.00``."""
        value = Decimal(minor_units).scaleb(-self.precision)
        return format_currency(value, self.currency, locale=self.babel)


@cache
def locale_format(locale: str) -> LocaleFormat:
    """Return the cached formatting data of a supported API locale such as ``de-DE``."""
    currency = currency_for_locale(locale)
    try:
        babel = Locale.parse(babel_locale(locale))
    except UnknownLocaleError:
        # CLDR has no data for some API locales (en_GR, en_MX in Babel 2.19); the language's
        # generic locale still formats the currency.
        babel = Locale.parse(locale.split("-")[0])
    phrasing = PHRASINGS.get(babel.language, PHRASINGS["en"])
    return LocaleFormat(
        currency=currency,
        precision=get_currency_precision(currency),
        babel=babel,
        phrasing=phrasing,
        financing_range=FINANCING_RANGES[currency],
    )


@lru_cache(maxsize=16_384)
def main_text(placement_key: str, locale: str, purchase_amount: int | None) -> str | None:
    """Return the TEXT_MAIN value, or None when the amount is outside the financing range.

    Args:
        placement_key: One of ``PLACEMENT_KEYS``.
        locale: A supported API locale.
        purchase_amount: Minor units; required for ``credit-promotion-badge``, ignored otherwise.
    """
    formatting = locale_format(locale)
    low, high = formatting.financing_range
    if placement_key == TOP_STRIP_PROMOTION:
        return formatting.phrasing.range.format(
            low=formatting.format_amount(low), high=formatting.format_amount(high)
        )

    assert purchase_amount is not None, "credit-promotion-badge needs an amount"
    if not low <= purchase_amount <= high:
        return None
    # The instalment is rounded up to the minor unit, so 4 instalments never sum below the price.
    instalment = math.ceil(purchase_amount / INSTALMENTS)
    return formatting.phrasing.instalment.format(amount=formatting.format_amount(instalment))


def build_nodes(
    text: str, locale: str, learn_more_url: str, badge_url: str
) -> list[dict[str, Any]]:
    """Build the ordered content nodes of a response whose TEXT_MAIN is ``text``."""
    phrasing = locale_format(locale).phrasing
    return [
        {"type": "TEXT", "name": "TEXT_MAIN", "value": text},
        {"type": "TEXT", "name": "TEXT_DISCLAIMER", "value": DISCLAIMER},
        {
            "type": "ACTION",
            "name": "ACTION_LEARN_MORE",
            "label": phrasing.learn_more,
            "url": learn_more_url,
        },
        {"type": "IMAGE", "name": "KLARNA_BADGE", "alt": phrasing.badge_alt, "url": badge_url},
    ]


BADGE_SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="96" height="24" viewBox="0 0 96 24" role="img">
  <title>OSM API emulator badge (not Klarna)</title>
  <rect width="96" height="24" rx="6" fill="#ffb3c7"/>
  <text x="48" y="16" font-family="sans-serif" font-size="11" text-anchor="middle"
        fill="#17120f">emulated</text>
</svg>
"""

LEARN_MORE_HTML = """\
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>osm-build OSM API emulator</title></head>
<body>
<h1>osm-build OSM API emulator</h1>
<p>This page is served by the emulator of the Klarna On-site Messaging API that ships with
osm-build. It is not Klarna, and the messages it returns are not offers from Klarna.</p>
</body>
</html>
"""
