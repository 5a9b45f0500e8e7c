"""A SQLite index of priced items, so that large catalogs are not held in memory."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

from osm_build.catalog.model import PricedItem

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    position INTEGER PRIMARY KEY,
    product TEXT NOT NULL,
    variant TEXT,
    title TEXT NOT NULL,
    locale TEXT NOT NULL,
    purchase_amount INTEGER NOT NULL,
    source TEXT NOT NULL,
    sku TEXT,
    price_changes_at TEXT
);
"""


class ItemIndex:
    """Priced items stored in catalog order and looked up by product."""

    def __init__(self, path: Path | str = ":memory:") -> None:
        self._connection = sqlite3.connect(str(path))
        self._connection.execute("PRAGMA journal_mode=OFF")
        self._connection.execute("PRAGMA synchronous=OFF")
        self._connection.executescript(_SCHEMA)
        self._indexed = False

    def add(self, items: Iterable[PricedItem]) -> None:
        """Append items in the order given."""
        rows = [
            (
                item.product, item.variant, item.title, item.locale, item.purchase_amount, item.source,
                item.sku, item.price_changes_at.isoformat() if item.price_changes_at else None,
            )
            for item in items
        ]
        self._connection.executemany(
            "INSERT INTO items (product, variant, title, locale, purchase_amount, source, sku, "
            "price_changes_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        self._indexed = False

    def _ensure_index(self) -> None:
        if not self._indexed:
            # position last, so lookups by product and locale come out in catalog order unsorted.
            self._connection.execute(
                "CREATE INDEX IF NOT EXISTS items_product ON items (product, locale, position)"
            )
            self._connection.commit()
            self._indexed = True

    def for_product(self, product: str, locale: str | None = None) -> list[PricedItem]:
        """Return a product's items in catalog order, optionally for one locale only."""
        self._ensure_index()
        query = "SELECT * FROM items WHERE product = ?"
        parameters: tuple = (product,)
        if locale is not None:
            query += " AND locale = ?"
            parameters += (locale,)
        return [_to_item(row) for row in self._connection.execute(query + " ORDER BY position", parameters)]

    def amounts_for(self, product: str, locale: str) -> list[tuple[str | None, int]]:
        """Return a product's (variant, purchase_amount) pairs in one market, in catalog order."""
        self._ensure_index()
        return self._connection.execute(
            "SELECT variant, purchase_amount FROM items WHERE product = ? AND locale = ? ORDER BY position",
            (product, locale),
        ).fetchall()

    def duplicates(self, limit: int = 20) -> list[tuple[str, str | None, str, list[int], list[str]]]:
        """Return up to ``limit`` (product, variant, locale) keys priced more than once.

        Each entry has the key, its amounts and its sources in catalog order. A duplicate means
        the export lists the same product twice, and a page could show either price.
        """
        self._ensure_index()
        rows = self._connection.execute(
            "SELECT product, variant, locale, GROUP_CONCAT(purchase_amount, ' '), GROUP_CONCAT(source, ' ') "
            "FROM (SELECT * FROM items ORDER BY position) GROUP BY product, variant, locale "
            "HAVING COUNT(*) > 1 LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            (product, variant, locale, [int(amount) for amount in amounts.split(" ")], sources.split(" "))
            for product, variant, locale, amounts, sources in rows
        ]

    def __iter__(self) -> Iterator[PricedItem]:
        for row in self._connection.execute("SELECT * FROM items ORDER BY position"):
            yield _to_item(row)

    def iter_by_product(self) -> Iterator[tuple[str, list[PricedItem]]]:
        """Yield each product with its items, products sorted by id, items in catalog order."""
        self._ensure_index()
        current: str | None = None
        group: list[PricedItem] = []
        query = "SELECT * FROM items ORDER BY product, position"
        for row in self._connection.execute(query):
            item = _to_item(row)
            if item.product != current and group:
                yield current, group
                group = []
            current = item.product
            group.append(item)
        if group:
            yield current, group

    def close(self) -> None:
        self._connection.close()


def _to_item(row: tuple) -> PricedItem:
    changes_at = datetime.fromisoformat(row[8]) if row[8] else None
    return PricedItem(
        product=row[1], variant=row[2], title=row[3], locale=row[4], purchase_amount=row[5],
        source=row[6], sku=row[7], price_changes_at=changes_at,
    )
