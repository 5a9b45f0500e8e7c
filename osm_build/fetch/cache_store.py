"""The SQLite file that keeps cached OSM API responses between builds.

One connection in WAL mode; writes are collected and committed in batches with ``executemany``.
Rows hold the request URL (which contains no credential), the body and the response headers the
cache needs, never the request headers, so ``Authorization`` never reaches the file.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from osm_build.errors import FetchError
from osm_build.fetch.cache import CacheEntry

logger = logging.getLogger(__name__)

DATABASE_NAME = "osm-answers.sqlite3"
SCHEMA_VERSION = 1

_COLUMNS = (
    "key, url, status, body, cache_control, etag, last_modified, correlation_id, stored_at, lifetime, initial_age"
)


class CacheStore:
    """Cached responses in ``<directory>/osm-answers.sqlite3``, read directly and written in batches."""

    def __init__(self, directory: Path, *, write_batch: int = 200) -> None:
        self.path = directory / DATABASE_NAME
        self._write_batch = write_batch
        self._pending: dict[str, CacheEntry | None] = {}
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, isolation_level=None)
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
            self._create_schema()
        except sqlite3.Error as error:
            raise FetchError(
                f"The response cache {self.path} cannot be opened: {error}. Delete the file to start "
                "an empty cache, or set cache.enabled: false."
            ) from error
        except OSError as error:
            raise FetchError(
                f"The cache directory {directory} cannot be created: {error}. Check cache.directory."
            ) from error

    def _create_schema(self) -> None:
        version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            logger.info("Cache %s has schema version %s, expected %s; starting it empty", self.path, version, SCHEMA_VERSION)
            self._connection.execute("DROP TABLE IF EXISTS answers")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS answers ("
            "key TEXT PRIMARY KEY, url TEXT NOT NULL, status INTEGER NOT NULL, body BLOB NOT NULL, "
            "cache_control TEXT, etag TEXT, last_modified TEXT, correlation_id TEXT, "
            "stored_at REAL NOT NULL, lifetime REAL NOT NULL, initial_age REAL NOT NULL)"
        )
        self._connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def get(self, key: str) -> CacheEntry | None:
        """Return the entry stored under ``key``, including writes not yet committed."""
        if key in self._pending:
            return self._pending[key]
        row = self._connection.execute(f"SELECT {_COLUMNS} FROM answers WHERE key = ?", (key,)).fetchone()
        return CacheEntry(*row) if row else None

    def put(self, entry: CacheEntry) -> None:
        """Store ``entry``, replacing any entry with the same key, at the next commit."""
        self._pending[entry.key] = entry
        self._flush_if_full()

    def delete(self, key: str) -> None:
        """Remove the entry under ``key`` at the next commit."""
        self._pending[key] = None
        self._flush_if_full()

    def flush(self) -> None:
        """Commit every pending write in one transaction."""
        if not self._pending:
            return
        rows = [
            (e.key, e.url, e.status, e.body, e.cache_control, e.etag, e.last_modified, e.correlation_id,
             e.stored_at, e.lifetime, e.initial_age)
            for e in self._pending.values()
            if e is not None
        ]
        deleted = [(key,) for key, entry in self._pending.items() if entry is None]
        with self._connection:
            self._connection.execute("BEGIN")
            self._connection.executemany(f"INSERT OR REPLACE INTO answers ({_COLUMNS}) VALUES ({', '.join('?' * 11)})", rows)
            self._connection.executemany("DELETE FROM answers WHERE key = ?", deleted)
        logger.debug("Cache %s: committed %s writes and %s deletions", self.path, len(rows), len(deleted))
        self._pending.clear()

    def close(self) -> None:
        """Commit pending writes and close the file."""
        try:
            self.flush()
        finally:
            self._connection.close()

    def _flush_if_full(self) -> None:
        if len(self._pending) >= self._write_batch:
            self.flush()
