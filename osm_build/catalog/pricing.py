"""Turn the prices read from one catalog row into the amount each market displays.

Each market takes its price from the first of these that the row has:

1. the market's own column (``price_column``), in the market's currency unless the value names
   another one;
2. for exports with scoped prices (commercetools), the price for the market's country and
   currency, then the unscoped price in that currency;
3. the row's default price, with its sale price while the sale window is open at build time.

A price in a currency other than the market's is never used for that market: it is counted as a
market mismatch. Net prices (``prices_include_tax: false``) get the market's tax added, or are
rejected when the market has no ``tax_rate_percent``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import repeat

from osm_build.catalog.amounts import (
    ROUNDING,
    AmountError,
    parse_minor_units,
    parse_price,
    parse_price_cached,
)
from osm_build.catalog.context import ReadContext
from osm_build.catalog.model import PricedItem
from osm_build.catalog.settings import MarketSettings

logger = logging.getLogger("osm_build.catalog")

_HUNDRED = Decimal(100)
# Builds a PricedItem from a tuple of all its fields, skipping the keyword handling of __new__.
_new_item = tuple.__new__


@dataclass(frozen=True, slots=True)
class ScopedPrice:
    """One price of a row that lists prices per currency, country, customer group and channel."""

    currency: str
    minor_units: int
    country: str | None = None
    customer_group: str | None = None
    channel: str | None = None


class Offer:
    """One product or variant as a reader found it, before market rules apply.

    Attributes:
        price: the regular price as text, or an int already in minor units.
        price_field: the column or element the price came from, for row errors.
        currency: the row's currency when the export names one outside the price text.
        sale_price: the sale price, same forms as ``price``.
        market_prices: per-market columns by name; a None value means the product is not sold in
            that market.
        scoped_prices: all prices of a commercetools-style row, or None for other exports.
    """

    __slots__ = (
        "currency",
        "line",
        "market_prices",
        "price",
        "price_field",
        "product",
        "sale_ends",
        "sale_field",
        "sale_price",
        "sale_starts",
        "scoped_field",
        "scoped_prices",
        "sku",
        "title",
        "variant",
    )

    def __init__(
        self,
        product: str,
        variant: str | None,
        title: str,
        line: int | str,
        price: str | int | None = None,
        price_field: str = "price",
        *,
        sku: str | None = None,
        currency: str | None = None,
        sale_price: str | int | None = None,
        sale_field: str = "sale_price",
        sale_starts: datetime | None = None,
        sale_ends: datetime | None = None,
        market_prices: dict[str, str | None] | None = None,
        scoped_prices: list[ScopedPrice] | None = None,
        scoped_field: str = "prices",
    ) -> None:
        self.product = product
        self.variant = variant
        self.title = title
        self.line = line
        self.price = price
        self.price_field = price_field
        self.sku = sku
        self.currency = currency
        self.sale_price = sale_price
        self.sale_field = sale_field
        self.sale_starts = sale_starts
        self.sale_ends = sale_ends
        self.market_prices = market_prices
        self.scoped_prices = scoped_prices
        self.scoped_field = scoped_field


class Pricer:
    """Price offers for a fixed list of markets at one build time."""

    def __init__(self, context: ReadContext, markets: Sequence[MarketSettings]) -> None:
        self.context = context
        self.markets = tuple(markets)
        self.now = context.now
        self.currency = context.settings.currency
        self.number_locale = context.settings.number_locale
        self.customer_group = context.settings.price_customer_group
        self.channel = context.settings.price_channel
        self.source_prefix = context.source_prefix
        # Markets that take the default price as it is: the common case gets a short path.
        self.plain_markets = tuple(
            (market.locale, market.currency)
            for market in self.markets
            if market.price_column is None and market.prices_include_tax
        )
        if len(self.plain_markets) != len(self.markets):
            self.plain_markets = ()
        # The currency shared by all plain markets. It is None when they differ, because a price
        # then always mismatches one of them.
        plain_currencies = {currency for _locale, currency in self.plain_markets}
        self.plain_currency = plain_currencies.pop() if len(plain_currencies) == 1 else None
        self.plain_locales = tuple(locale for locale, _currency in self.plain_markets)

    def price(self, offer: Offer) -> list[PricedItem]:
        """Return one item per market that has a usable price for the offer."""
        if self.plain_markets and offer.market_prices is None and offer.scoped_prices is None:
            return self._price_plain(offer)
        return list(self._price_each_market(offer))

    def plain_amounts(self, text: str) -> tuple[tuple[str, int], ...] | None:
        """Return ``(locale, amount)`` per market for a regular price with no sale or market price.

        Returns None when the markets do not all take the default price as it is, or when the
        price would give a row error (invalid, or in another currency than a market's). Such
        rows need ``price``, which records the error.
        """
        if self.plain_currency is None:
            return None
        try:
            amount, currency = parse_price(text, self.currency, self.number_locale)
        except AmountError:
            return None
        if currency != self.plain_currency:
            return None
        return tuple(zip(self.plain_locales, repeat(amount)))

    def _price_plain(self, offer: Offer) -> list[PricedItem]:
        default = self._default_price(offer)
        if default is None:
            return []
        amount, currency, changes_at = default
        items = []
        source = self.source_prefix + str(offer.line)
        for locale, market_currency in self.plain_markets:
            if currency != market_currency:
                self._mismatch(offer, offer.price_field, currency, locale, market_currency)
                continue
            items.append(
                _new_item(
                    PricedItem, (offer.product, offer.variant, offer.title, locale, amount, source, offer.sku, changes_at)
                )
            )
        self.context.report.items_priced += len(items)
        return items

    def _price_each_market(self, offer: Offer) -> Iterator[PricedItem]:
        context = self.context
        default: tuple[int, str, datetime | None] | None | bool = False
        if offer.scoped_prices is not None and not offer.scoped_prices:
            context.skip(offer.line, offer.scoped_field, "", "missing price: the row lists no prices", "missing price")
            return

        for market in self.markets:
            changes_at = None
            column = market.price_column
            market_text = None
            if column is not None and offer.market_prices is not None and column in offer.market_prices:
                market_text = offer.market_prices[column]
                if market_text is None:
                    logger.debug("%s is not sold in %s", context.source(offer.line), market.locale)
                    continue
            if market_text:
                found = self._amount(offer, market_text, column, market.currency)
                if found is None:
                    continue
                amount, currency, field = found[0], found[1], column
            elif offer.scoped_prices is not None:
                scoped = self._choose_scoped(offer.scoped_prices, market)
                if scoped is None:
                    currencies = sorted({p.currency for p in offer.scoped_prices})
                    self._mismatch(offer, offer.scoped_field, ", ".join(currencies), market.locale, market.currency)
                    continue
                amount, currency, field = scoped.minor_units, scoped.currency, offer.scoped_field
            else:
                if default is False:
                    default = self._default_price(offer)
                if default is None:
                    return
                amount, currency, changes_at = default
                field = offer.price_field

            if currency != market.currency:
                self._mismatch(offer, field, currency, market.locale, market.currency)
                continue
            if not market.prices_include_tax:
                if market.tax_rate_percent is None:
                    context.skip(
                        offer.line,
                        field,
                        amount,
                        f"net price: the amount is before tax and market {market.locale} has no "
                        "tax_rate_percent; set tax_rate_percent or prices_include_tax: true",
                        "net price",
                    )
                    continue
                gross = Decimal(amount) * (1 + market.tax_rate_percent / _HUNDRED)
                amount = int(gross.to_integral_value(ROUNDING))

            context.report.items_priced += 1
            yield PricedItem(
                product=offer.product,
                variant=offer.variant,
                title=offer.title,
                locale=market.locale,
                purchase_amount=amount,
                source=context.source(offer.line),
                sku=offer.sku,
                price_changes_at=changes_at,
            )

    def _amount(
        self, offer: Offer, value: str | int | None, field: str | None, currency: str | None
    ) -> tuple[int, str] | None:
        """Parse one price field, recording a row error and returning None when it is unusable."""
        if value is None or value == "":
            self.context.skip(offer.line, field, value, f"missing price: {field!r} is empty", "missing price")
            return None
        try:
            if isinstance(value, int):
                if currency is None:
                    raise AmountError(
                        "missing currency",
                        "the export names no currency and catalog.currency is not set; "
                        "set catalog.currency to the export's ISO 4217 currency, such as USD",
                    )
                return parse_minor_units(value), currency
            return parse_price_cached(value, currency, self.number_locale)
        except AmountError as error:
            self.context.skip(offer.line, field, value, f"{error.key}: {error}", error.key)
            return None

    def _default_price(self, offer: Offer) -> tuple[int, str, datetime | None] | None:
        """Return the displayed default price, its currency and when it next changes."""
        currency = offer.currency or self.currency
        regular = self._amount(offer, offer.price, offer.price_field, currency)
        if regular is None:
            return None
        if offer.sale_price is None or offer.sale_price == "":
            return regular[0], regular[1], None

        starts, ends = offer.sale_starts, offer.sale_ends
        now = self.now
        active = (starts is None or starts <= now) and (ends is None or now < ends)
        changes_at = None
        if starts is not None and now < starts:
            changes_at = starts
        elif ends is not None and now < ends:
            changes_at = ends
        if not active:
            return regular[0], regular[1], changes_at

        sale = self._amount(offer, offer.sale_price, offer.sale_field, currency)
        if sale is None:
            return None
        if sale[1] != regular[1]:
            self.context.skip(
                offer.line,
                offer.sale_field,
                offer.sale_price,
                f"currency mismatch: the sale price is {sale[1]} but the price is {regular[1]}",
                "currency mismatch",
            )
            return None
        if sale[0] >= regular[0]:
            logger.debug("%s: sale price is not below the price; using the price", self.context.source(offer.line))
            return regular[0], regular[1], changes_at
        return sale[0], sale[1], changes_at

    def _choose_scoped(self, prices: list[ScopedPrice], market: MarketSettings) -> ScopedPrice | None:
        """Pick the country price, then the unscoped price, in the market's currency."""
        country = market.locale.split("-")[1]
        wanted = ((self.customer_group, self.channel), (None, None))
        for group, channel in dict.fromkeys(wanted):
            best = None
            for price in prices:
                if price.currency != market.currency:
                    continue
                if price.customer_group != group or price.channel != channel:
                    continue
                if price.country == country:
                    return price
                if price.country is None and best is None:
                    best = price
            if best is not None:
                return best
        return None

    def _mismatch(self, offer: Offer, field: str | None, currency: str, locale: str, required: str) -> None:
        self.context.report.market_mismatches += 1
        self.context.skip(
            offer.line,
            field,
            None,
            f"market mismatch: price is {currency} but {locale} requires {required}",
            "market mismatch",
        )
