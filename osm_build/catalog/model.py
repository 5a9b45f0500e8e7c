"""Output types of the catalog stage: priced items, row errors and counts for the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

MAX_KEPT_ROW_ERRORS = 1000


class PricedItem(NamedTuple):
    """One product or variant with the amount a shopper sees in one market.

    It is a named tuple because readers create one per row and market. With CPython 3.11,
    ``tuple.__new__(PricedItem, fields)`` takes about a tenth of the time of a frozen dataclass
    ``__init__``. Items compare and hash by their field values, so an item also equals a plain
    tuple of the same values.

    Attributes:
        product: the product id that pages use in ``data-osm-product``.
        variant: the variant id, or None for a product without variants.
        title: the product or variant title, untrusted text.
        locale: the market's API locale.
        purchase_amount: the displayed price in minor units of the market's currency.
        source: where the price was read, as ``file:line``.
        sku: the product's or variant's SKU, when the export has one.
        price_changes_at: the next start or end of a sale window, when one is scheduled.
    """

    product: str
    variant: str | None
    title: str
    locale: str
    purchase_amount: int
    source: str
    sku: str | None = None
    price_changes_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A catalog row, or one field of it, that could not be used."""

    file: str
    line: int | str
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        column = f", column {self.column!r}" if self.column else ""
        value = f", value {self.value!r}" if self.value is not None else ""
        return f"{self.file}:{self.line}{column}{value}: {self.reason}"


@dataclass
class CatalogReport:
    """Counts of what the catalog stage read, priced and skipped."""

    format: str | None = None
    rows_read: int = 0
    items_priced: int = 0
    excluded_unpublished: int = 0
    market_mismatches: int = 0
    skipped_by_reason: Counter[str] = field(default_factory=Counter)
    # Rows skipped because something in them is wrong; the others (grouped products, out of
    # stock) are skipped by design and counted only in skipped_by_reason.
    row_errors: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped_by_reason.values())

    def skip(self, error: RowError, reason_key: str) -> None:
        """Count a skipped row under ``reason_key`` and keep its error for the report."""
        self.row_errors += 1
        self.skipped_by_reason[reason_key] += 1
        if len(self.errors) < MAX_KEPT_ROW_ERRORS:
            self.errors.append(error)
