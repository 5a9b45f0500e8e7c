"""State shared by the readers of one catalog read: settings, report and row-error logging."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from osm_build.catalog.model import CatalogReport, RowError
from osm_build.catalog.settings import CatalogSettings

logger = logging.getLogger("osm_build.catalog")

MAX_LOGGED_ROW_ERRORS = 20

_TRUE_WORDS = frozenset({"1", "true", "yes", "y", "on", "t"})
_FALSE_WORDS = frozenset({"0", "false", "no", "n", "off", "f", "-1"})


@dataclass
class ReadContext:
    """The file being read, the settings that apply and the report that counts what happened."""

    path: Path
    settings: CatalogSettings
    report: CatalogReport
    now: datetime
    market_columns: tuple[str, ...] = ()
    logged_errors: int = 0
    row_errors: int = 0

    def __post_init__(self) -> None:
        self.file = self.path.name
        self.source_prefix = self.file + ":"

    def source(self, line: int | str) -> str:
        """Return the ``file:line`` (or ``file:element-path``) text of a row."""
        return self.source_prefix + str(line)

    def skip(self, line: int | str, column: str | None, value: object, reason: str, key: str) -> None:
        """Record a row that yields nothing, counted under ``key``, and log the first ones."""
        text = None if value is None else str(value)
        error = RowError(self.file, line, column, text, reason)
        self.report.skip(error, key)
        self.row_errors += 1
        if self.logged_errors < MAX_LOGGED_ROW_ERRORS:
            self.logged_errors += 1
            logger.warning("Skipped catalog row %s", error)

    def exclude(self, line: int | str, why: str) -> None:
        """Count a product or variant left out because it is not on sale (draft, hidden, ...)."""
        self.report.excluded_unpublished += 1
        logger.debug("Left out %s: %s; set catalog.include_unpublished: true to keep it", self.source(line), why)

    def market_positions(self, header: list[str]) -> dict[str, int]:
        """Return the positions of the markets' ``price_column`` columns found in ``header``."""
        return {name: header.index(name) for name in self.market_columns if name in header}

    def finish(self) -> None:
        """Log one summary line for the row errors past the first logged ones."""
        unlogged = self.row_errors - self.logged_errors
        if unlogged > 0:
            logger.warning(
                "%d more catalog row errors in %s were not logged; the build report counts all %d",
                unlogged,
                self.file,
                self.row_errors,
            )


def parse_flag(text: str | None) -> bool | None:
    """Read a spreadsheet boolean (TRUE, fAlSE, 1, 0, yes); None when empty or unknown."""
    if text is None:
        return None
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return None


def parse_datetime(text: str, *, end: bool = False) -> datetime:
    """Parse an ISO 8601 date or date-time; a date without time is read in UTC.

    A date-only end (``2016-02-26``) means the end of that day, so the returned instant is the
    next midnight.

    Raises:
        ValueError: the text is not an ISO 8601 date or date-time.
    """
    stripped = text.strip()
    value = datetime.fromisoformat(stripped.replace(" ", "T", 1) if len(stripped) > 10 else stripped)
    if value.tzinfo is None:
        # NOTE: exports without an offset (WooCommerce, Magento) use the shop's time zone, which
        # the file does not name; UTC is assumed.
        value = value.replace(tzinfo=UTC)
    if end and len(stripped) == 10:
        value += timedelta(days=1)
    return value
