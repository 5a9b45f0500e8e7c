"""The durable queue of accepted deliveries and the webhook prices still newer than the catalog.

A delivery is committed to SQLite (WAL mode, ``synchronous=FULL``) before the server responds 202,
so it survives a crash. It stays ``pending`` until a build that includes it has been published.
The pair (source, delivery id) is unique, which drops a delivery the sender repeats.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from osm_build.errors import OsmBuildError

logger = logging.getLogger(__name__)

# Done deliveries are kept this long so that a late repeat of one is still recognised.
KEEP_DONE_SECONDS = 7 * 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    topic TEXT,
    content_type TEXT NOT NULL DEFAULT '',
    received_at REAL NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    done_at REAL,
    UNIQUE (source, delivery_id)
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (state, seq);
CREATE TABLE IF NOT EXISTS price_overrides (
    product TEXT NOT NULL,
    variant TEXT NOT NULL,
    locale TEXT NOT NULL,
    purchase_amount INTEGER NOT NULL,
    title TEXT NOT NULL,
    sku TEXT,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (product, variant, locale)
);
"""


@dataclass(frozen=True)
class StoredDelivery:
    """One delivery as the journal stores it."""

    seq: int
    source: str
    delivery_id: str
    topic: str | None
    content_type: str
    received_at: float
    body: bytes
    attempts: int


@dataclass(frozen=True)
class StoredPrice:
    """A price from a webhook; ``variant`` is ``""`` for a product without variants."""

    product: str
    variant: str
    locale: str
    purchase_amount: int
    title: str
    sku: str | None
    source: str
    received_at: float


class Journal:
    """A thread-safe handle on the journal file; one connection guarded by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise OsmBuildError(
                f"Cannot open the webhook journal {path}: {error}. Check that its folder is "
                "writable, or set webhooks.journal to another path."
            ) from error
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, source: str, delivery_id: str, topic: str | None, content_type: str, body: bytes) -> bool:
        """Store a delivery durably; return False when this source already sent this id."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (source, delivery_id, topic, content_type, received_at, body) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (source, delivery_id, topic, content_type, time.time(), body),
            )
            return cursor.rowcount == 1

    def pending(self) -> list[StoredDelivery]:
        """Return the pending deliveries, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, source, delivery_id, topic, content_type, received_at, body, attempts "
                "FROM deliveries WHERE state = 'pending' ORDER BY seq"
            ).fetchall()
        return [StoredDelivery(*row) for row in rows]

    def pending_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM deliveries WHERE state = 'pending'").fetchone()[0]

    def latest_pending_at(self) -> float | None:
        """Return when the newest pending delivery arrived, or None."""
        with self._lock:
            return self._db.execute(
                "SELECT max(received_at) FROM deliveries WHERE state = 'pending'"
            ).fetchone()[0]

    def mark_done(self, seqs: list[int], prices: list[StoredPrice]) -> None:
        """Mark deliveries done and keep their prices, in one transaction."""
        now = time.time()
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "UPDATE deliveries SET state = 'done', done_at = ?, last_error = NULL WHERE seq = ?",
                [(now, seq) for seq in seqs],
            )
            # A delivery built later than a newer one for the same variant must not replace its price.
            self._db.executemany(
                "INSERT INTO price_overrides VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (product, variant, locale) DO UPDATE SET "
                "purchase_amount = excluded.purchase_amount, title = excluded.title, sku = excluded.sku, "
                "source = excluded.source, received_at = excluded.received_at "
                "WHERE excluded.received_at >= price_overrides.received_at",
                [
                    (p.product, p.variant, p.locale, p.purchase_amount, p.title, p.sku, p.source, p.received_at)
                    for p in prices
                ],
            )
            self._db.execute(
                "DELETE FROM deliveries WHERE state != 'pending' AND done_at < ?", (now - KEEP_DONE_SECONDS,)
            )

    def mark_failed_attempt(self, seq: int, error: str, max_attempts: int) -> bool:
        """Count a failed build of one delivery; give up on it once it has failed ``max_attempts`` times.

        Returns:
            True when the delivery was given up on (state ``failed``).
        """
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error, seq)
            )
            cursor = self._db.execute(
                "UPDATE deliveries SET state = 'failed', done_at = ? WHERE seq = ? AND attempts >= ?",
                (time.time(), seq, max_attempts),
            )
            return cursor.rowcount == 1

    def stored_prices(self, newer_than: float) -> list[StoredPrice]:
        """Return webhook prices received after ``newer_than`` and drop the older ones.

        A price older than the catalog file is dropped because the catalog export then has it.
        """
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM price_overrides WHERE received_at <= ?", (newer_than,))
            rows = self._db.execute(
                "SELECT product, variant, locale, purchase_amount, title, sku, source, received_at "
                "FROM price_overrides ORDER BY product, variant, locale"
            ).fetchall()
        return [StoredPrice(*row) for row in rows]
