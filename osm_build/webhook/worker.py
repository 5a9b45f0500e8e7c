"""The build loop of ``osm-build serve``: one build at a time from the journal's pending deliveries.

The loop waits until no delivery has arrived for ``debounce_seconds`` (or the oldest has waited
``max_delay_seconds``), takes every pending delivery, runs one build for their union, and marks
them done only after that build was published. A failed build leaves them pending and is retried
with a growing delay; after ``MAX_ATTEMPTS`` failures a delivery is marked ``failed``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from osm_build.build import BuildOptions, run_build
from osm_build.config import LoadedConfig
from osm_build.errors import OsmBuildError
from osm_build.report import BuildReport
from osm_build.webhook.changes import (
    Rebuild, catalog_mtime, plan_rebuild, read_published_products, to_priced_items,
)
from osm_build.webhook.journal import Journal, StoredPrice
from osm_build.webhook.settings import WebhookSettings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_RETRY_DELAY_SECONDS = 60.0
PUBLISH_COMMAND_TIMEOUT_SECONDS = 600
LOGGED_OUTPUT_CHARS = 2000

BuildFunction = Callable[[LoadedConfig, BuildOptions], BuildReport]


class BuildWorker:
    """Runs builds for pending deliveries in a background thread."""

    def __init__(self, config: LoadedConfig, webhooks: WebhookSettings, journal: Journal,
                 build: BuildFunction = run_build) -> None:
        self.config = config
        self.webhooks = webhooks
        self.journal = journal
        self.builds = 0
        self.last_build: dict[str, Any] | None = None
        self._build = build
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._retry_at = 0.0
        self._failures = 0
        self._thread = threading.Thread(target=self._run, name="osm-webhook-builds", daemon=True)

    def start(self) -> None:
        pending = self.journal.pending_count()
        if pending:
            logger.info("%d deliveries are pending from before the last stop; they will be built", pending)
        self._thread.start()

    def notify(self) -> None:
        """Wake the loop after a delivery was stored."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop and wait up to ``timeout`` seconds for a running build."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("A build was still running at stop; its deliveries stay pending for the next start")

    def _run(self) -> None:
        while not self._stopping.is_set():
            delay = self._seconds_until_due()
            if delay is None:
                self._wake.wait()
                self._wake.clear()
                continue
            if delay > 0:
                self._wake.wait(delay)
                self._wake.clear()
                continue
            try:
                self._build_pending()
            except Exception:  # noqa: BLE001 - the loop must outlive any bug in one build
                logger.exception("The webhook build loop failed; retrying in %g s", MAX_RETRY_DELAY_SECONDS)
                self._retry_at = time.time() + MAX_RETRY_DELAY_SECONDS

    def _seconds_until_due(self) -> float | None:
        """Return how long to wait before the next build, or None when nothing is pending."""
        pending = self.journal.pending()
        if not pending:
            return None
        now = time.time()
        quiet_until = pending[-1].received_at + self.webhooks.debounce_seconds
        latest_start = pending[0].received_at + self.webhooks.max_delay_seconds
        return max(min(quiet_until, latest_start), self._retry_at) - now

    def _build_pending(self) -> None:
        deliveries = self.journal.pending()
        if not deliveries:
            return
        published = read_published_products(self.config)
        rebuild = plan_rebuild(deliveries, self.webhooks, self.config, published)
        prices = self._prices_for(rebuild)
        options = build_options(rebuild, prices)
        logger.info("Building for %s", rebuild.describe())

        started = time.monotonic()
        self.builds += 1
        try:
            report = self._build(self.config, options)
        except OsmBuildError as error:
            self._record_failure(rebuild, started, str(error))
            return
        except Exception as error:  # noqa: BLE001 - a bug in one build must not stop the server
            logger.exception("Build for %d deliveries raised an unexpected error", len(rebuild.seqs))
            self._record_failure(rebuild, started, f"{type(error).__name__}: {error}")
            return

        self.journal.mark_done(rebuild.seqs, list(rebuild.prices.values()))
        self._failures = 0
        self._retry_at = 0.0
        exit_status = run_publish_command(self.webhooks.publish_command, self.config, report.published)
        self.last_build = self._result(rebuild, started, ok=True, published=report.published,
                                       publish_command_exit=exit_status)
        logger.info("Published %s for %d deliveries in %.1f s", report.published, len(rebuild.seqs),
                    time.monotonic() - started)

    def _prices_for(self, rebuild: Rebuild) -> dict:
        """Merge kept webhook prices newer than the catalog file with this rebuild's prices."""
        prices = {(p.product, p.variant, p.locale): p
                  for p in self.journal.stored_prices(newer_than=catalog_mtime(self.config))}
        prices.update(rebuild.prices)
        return prices

    def _record_failure(self, rebuild: Rebuild, started: float, error: str) -> None:
        self._failures += 1
        delay = min(MAX_RETRY_DELAY_SECONDS, 2.0 ** self._failures)
        self._retry_at = time.time() + delay
        given_up = self.journal.mark_failed_attempt(rebuild.seqs, error[:1000], MAX_ATTEMPTS)
        logger.error("Build for %d deliveries failed: %s; retrying in %g s", len(rebuild.seqs), error, delay)
        if given_up:
            logger.error("Gave up on %d deliveries after %d failed builds; run `osm-build build` by hand",
                         given_up, MAX_ATTEMPTS)
        self.last_build = self._result(rebuild, started, ok=False, error=error)

    def _result(self, rebuild: Rebuild, started: float, **fields: Any) -> dict[str, Any]:
        return {
            "finished_at": datetime.now(UTC).isoformat(),
            "duration_seconds": round(time.monotonic() - started, 3),
            "deliveries": len(rebuild.seqs),
            "full": rebuild.full,
            "products": sorted(rebuild.products)[:100],
            "prices": len(rebuild.prices),
            "error": None,
            **fields,
        }


def build_options(rebuild: Rebuild, prices: dict) -> BuildOptions:
    """Return the options of a rebuild: the products in scope and the prices that replace the catalog's.

    ``run_build`` replaces a catalog item by the override with the same product, variant and
    locale, so the other variants and markets of a product keep their catalog prices.
    """
    if rebuild.full:
        overrides = list(prices.values())
        return BuildOptions(price_overrides=to_priced_items(overrides) or None)
    overrides = [price for price in prices.values() if price.product in rebuild.products]
    return BuildOptions(only_products=frozenset(rebuild.products),
                        price_overrides=to_priced_items(overrides) or None)


def run_publish_command(command: str | None, config: LoadedConfig, release: str | None) -> int | None:
    """Run the configured shell command after a published build and log its exit status and output."""
    if not command:
        return None
    environment = {**os.environ, "OSM_BUILD_RELEASE": release or "",
                   "OSM_BUILD_OUTPUT": str(config.resolve(config.settings.output.directory))}
    try:
        completed = subprocess.run(
            command, shell=True, cwd=config.base_dir, env=environment, capture_output=True,
            text=True, timeout=PUBLISH_COMMAND_TIMEOUT_SECONDS, check=False,
        )
    except subprocess.TimeoutExpired:
        logger.error("webhooks.publish_command did not finish within %d s and was stopped",
                     PUBLISH_COMMAND_TIMEOUT_SECONDS)
        return None
    output = (completed.stdout + completed.stderr).strip()[-LOGGED_OUTPUT_CHARS:]
    level = logging.INFO if completed.returncode == 0 else logging.ERROR
    logger.log(level, "webhooks.publish_command exited with status %d%s", completed.returncode,
               f"; output:\n{output}" if output else "")
    return completed.returncode
