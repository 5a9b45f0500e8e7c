"""The build report: what each stage read, sent, wrote and could not do."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from osm_build.catalog.model import CatalogReport
from osm_build.fetch import FetchReport

logger = logging.getLogger(__name__)

MAX_LISTED_PROBLEMS = 200
MAX_LOGGED_PROBLEMS = 20


@dataclass
class BuildReport:
    """Counters and problems of one build, printed at the end and written as JSON."""

    catalog: CatalogReport = field(default_factory=CatalogReport)
    fetch: FetchReport = field(default_factory=FetchReport)
    products: int = 0
    distinct_requests: int = 0
    fragments_written: int = 0
    empty_answers: int = 0
    pages_written: int = 0
    placeholders_filled: int = 0
    placeholders_empty: int = 0
    stale: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings_count: int = 0
    published: str | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Measure the wall-clock time of a stage into ``stage_seconds`` and log it."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[stage] = round(time.perf_counter() - started, 3)
            logger.info("Stage %s took %.2f s", stage, self.stage_seconds[stage])

    def problem(self, message: str) -> None:
        """Record and log a problem the user should fix; the list and the log are capped, the count is not."""
        self.warnings_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(message)
        if self.warnings_count <= MAX_LOGGED_PROBLEMS:
            logger.warning("%s", message)
        elif self.warnings_count == MAX_LOGGED_PROBLEMS + 1:
            logger.warning("More problems follow; the build report lists up to %d of them", MAX_LISTED_PROBLEMS)

    def to_dict(self) -> dict:
        catalog = self.catalog
        return {
            "products": self.products,
            "rows_read": catalog.rows_read,
            "rows_skipped": catalog.rows_skipped,
            "rows_skipped_by_reason": dict(catalog.skipped_by_reason),
            "items_priced": catalog.items_priced,
            "excluded_unpublished": catalog.excluded_unpublished,
            "market_mismatches": catalog.market_mismatches,
            "catalog_format": catalog.format,
            "distinct_requests": self.distinct_requests,
            **asdict(self.fetch),
            "fragments_written": self.fragments_written,
            "empty_answers": self.empty_answers,
            "pages_written": self.pages_written,
            "placeholders_filled": self.placeholders_filled,
            "placeholders_empty": self.placeholders_empty,
            "stale": self.stale,
            "failed_requests": self.failed,
            "row_errors_count": catalog.row_errors,
            "row_errors": [str(error) for error in catalog.errors],
            "problems": self.problems,
            "warnings": self.warnings_count,
            "stage_seconds": self.stage_seconds,
        }

    def write(self, path: Path) -> None:
        """Write the report as JSON to a new file at ``path``.

        Any file there is unlinked first, because in an incremental build's staging folder it is
        a hard link into the published release.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def _skip_reasons(self) -> str:
        reasons = self.catalog.skipped_by_reason.most_common(3)
        text = ", ".join(f"{count} {reason}" for reason, count in reasons) or "none"
        others = len(self.catalog.skipped_by_reason) - len(reasons)
        return text + (f" and {others} more reasons" if others > 0 else "")

    def summary_lines(self) -> list[str]:
        """Return the end-of-build summary for a terminal."""
        data = self.to_dict()
        lines = [
            f"Products read:        {data['products']} ({data['rows_read']} rows, {data['rows_skipped']} skipped: "
            f"{self._skip_reasons()}; {data['excluded_unpublished']} not published)",
            f"Items priced:         {data['items_priced']} ({data['market_mismatches']} market mismatches)",
            f"Distinct requests:    {data['distinct_requests']}",
            f"Requests sent:        {data['requests_sent']} (cache hits {data['cache_hits']}, "
            f"revalidated {data['revalidated']}, retries {data['retries']})",
            f"Failed / stale:       {len(self.failed)} requests failed, {len(self.stale)} fragments kept from before",
            f"Fragments written:    {data['fragments_written']} ({data['empty_answers']} answers with nothing to show)",
            f"Pages written:        {data['pages_written']} ({data['placeholders_filled']} placeholders filled, "
            f"{data['placeholders_empty']} left empty)",
            f"Problems:             {data['warnings']} on pages, {self.catalog.row_errors} catalog rows with errors",
        ]
        return lines
