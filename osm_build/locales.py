"""The locales the OSM API accepts and the currency each one requires.

Klarna serves each billing country in its local currency only, and the currency is never sent:
it follows from the locale's country.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError

SUPPORTED_LOCALES: tuple[str, ...] = (
    "en-AT", "de-AT", "nl-BE", "en-BE", "fr-BE", "en-CH", "de-CH", "it-CH", "fr-CH", "en-CZ",
    "cs-CZ", "de-DE", "en-DE", "da-DK", "en-DK", "es-ES", "en-ES", "fi-FI", "sv-FI", "en-FI",
    "fr-FR", "en-FR", "en-GB", "en-GR", "el-GR", "en-IE", "en-IT", "it-IT", "nl-NL", "en-NL",
    "no-NO", "nb-NO", "en-NO", "en-PL", "pl-PL", "en-PT", "pt-PT", "sv-SE", "en-SE", "en-CA",
    "fr-CA", "es-MX", "en-MX", "en-US", "es-US", "en-AU", "en-NZ",
)

COUNTRY_CURRENCIES: dict[str, str] = {
    **dict.fromkeys(("AT", "BE", "DE", "ES", "FI", "FR", "GR", "IE", "IT", "NL", "PT"), "EUR"),
    "CH": "CHF",
    "CZ": "CZK",
    "DK": "DKK",
    "GB": "GBP",
    "NO": "NOK",
    "PL": "PLN",
    "SE": "SEK",
    "CA": "CAD",
    "MX": "MXN",
    "US": "USD",
    "AU": "AUD",
    "NZ": "NZD",
}

# Klarna's API hosts by region. Mexico is not assigned in Klarna's documentation, so NA is an
# inference.
COUNTRY_REGIONS: dict[str, str] = {
    **dict.fromkeys(("US", "CA", "MX"), "na"),
    **dict.fromkeys(("AU", "NZ"), "oc"),
}


def currency_for_locale(locale: str) -> str:
    """Return the ISO 4217 currency that the API requires for a supported locale."""
    return COUNTRY_CURRENCIES[locale.split("-")[1]]


def region_for_locale(locale: str) -> str:
    """Return the API region (``eu``, ``na`` or ``oc``) that serves a locale's country."""
    return COUNTRY_REGIONS.get(locale.split("-")[1], "eu")


@lru_cache(maxsize=None)
def babel_locale(locale: str) -> str:
    """Return the Babel name of an API locale (``en-US`` becomes ``en_US``).

    Babel has no data for some API locales (``en_GR``, ``en_MX``). Those fall back to the
    language alone, which formats amounts the same way apart from regional conventions.
    """
    language, country = locale.split("-")
    # Babel names Norwegian nb, and the API's no-NO is the same written language.
    if language == "no":
        language = "nb"
    name = f"{language}_{country}"
    try:
        Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        return language
    return name
