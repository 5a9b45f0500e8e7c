"""The ``catalog`` and ``markets`` sections of site_config.yaml."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from babel import Locale, UnknownLocaleError
from pydantic import Field, ValidationInfo, field_validator, model_validator

from osm_build.locales import SUPPORTED_LOCALES, currency_for_locale
from osm_build.schema import Section

CatalogFormat = Literal[
    "auto",
    "woocommerce",
    "shopify",
    "shopify-json",
    "google-xml",
    "google-csv",
    "magento",
    "commercetools",
    "csv",
    "json",
    "jsonl",
]


class FieldMapping(Section):
    """Column names (CSV) or keys (JSON, JSON Lines) of a generic export.

    JSON keys may be dotted paths such as ``offer.price`` for nested objects.
    """

    product_id: str = "id"
    variant_id: str | None = None
    title: str | None = "title"
    sku: str | None = None
    price: str = "price"
    currency: str | None = Field(
        default=None, description="Column with each row's ISO 4217 currency, if the export has one."
    )
    sale_price: str | None = None
    sale_starts: str | None = Field(default=None, description="Column with the sale start (ISO 8601).")
    sale_ends: str | None = Field(default=None, description="Column with the sale end (ISO 8601).")
    published: str | None = Field(
        default=None, description="Column whose false, 0, no, draft or hidden value leaves a row out."
    )
    price_in_minor_units: bool = Field(
        default=False, description="True when the price column contains minor units (cents), not 12.34."
    )


class CatalogSettings(Section):
    """Location and reading options of the catalog export."""

    path: Path
    format: CatalogFormat = "auto"
    currency: str | None = Field(
        default=None,
        description="ISO 4217 currency of the export's prices when the file does not name one.",
    )
    number_locale: str | None = Field(
        default=None,
        description="Babel locale whose separators read ambiguous prices such as '1,800'.",
    )
    include_unpublished: bool = False
    include_out_of_stock: bool = Field(
        default=True,
        description="Price items that the export marks out of stock (feeds, WooCommerce, Shopify JSON).",
    )
    encoding: str | None = Field(
        default=None,
        description="Text encoding such as cp1252; by default a BOM decides, else UTF-8.",
    )
    price_customer_group: str | None = Field(
        default=None, description="commercetools customer group whose prices to prefer."
    )
    price_channel: str | None = Field(
        default=None, description="commercetools channel key whose prices to prefer."
    )
    mapping: FieldMapping = FieldMapping()

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @field_validator("number_locale")
    @classmethod
    def _check_number_locale(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            Locale.parse(value.replace("-", "_"))
        except (ValueError, UnknownLocaleError):
            raise ValueError(
                f"{value!r} is not a locale Babel knows; use a name such as 'de', 'en_US' or 'sv'"
            ) from None
        return value.replace("-", "_")


class MarketSettings(Section):
    """One market: an API locale and the currency Klarna requires for it."""

    locale: str
    currency: str | None = None
    price_column: str | None = Field(
        default=None,
        description="Column with this market's own price, such as 'Price / United States'.",
    )
    prices_include_tax: bool = Field(
        default=True,
        description="False when the export's prices for this market are net (before tax).",
    )
    tax_rate_percent: Decimal | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Tax added to net prices, in percent (25 for 25 %); needs prices_include_tax: false.",
    )

    @field_validator("locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError(
                f"{value!r} is not a locale the OSM API accepts; use one of "
                + ", ".join(SUPPORTED_LOCALES)
            )
        return value

    @field_validator("currency")
    @classmethod
    def _check_currency(cls, value: str | None, info: ValidationInfo) -> str | None:
        locale = info.data.get("locale")
        if value is None or locale is None:
            return value
        required = currency_for_locale(locale)
        if value.upper() != required:
            raise ValueError(
                f"{value!r} is not the currency Klarna requires for {locale} ({required}); "
                f"set currency: {required}"
            )
        return required

    @model_validator(mode="after")
    def _default_currency(self) -> "MarketSettings":
        if self.currency is None:
            object.__setattr__(self, "currency", currency_for_locale(self.locale))
        return self
