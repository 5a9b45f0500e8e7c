"""The build loop of ``osm-build serve``: one build at a time from the journal's pending deliveries.

The loop waits until no delivery has arrived for ``debounce_seconds`` (or the oldest has waited
``max_delay_seconds``), then runs one round of builds and marks each delivery done only after a
build that includes it was published. A round builds the union of the deliveries that have never
failed. When that build fails, each of them is built alone, so that one delivery that breaks
every build it is part of cannot hold back the others. Deliveries that already failed alone are
built alone. Only a build of one delivery counts as a failed attempt of it; after ``MAX_ATTEMPTS``
of them the delivery is marked ``failed`` (given up). A round with a failure is retried after a
growing delay.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from osm_build.build import BuildOptions, run_build
from osm_build.config import LoadedConfig
from osm_build.errors import OsmBuildError
from osm_build.report import BuildReport
from osm_build.webhook.changes import (
    Rebuild, catalog_mtime, plan_rebuild, read_published_products, to_priced_items,
)
from osm_build.webhook.journal import Journal, StoredDelivery
from osm_build.webhook.settings import WebhookSettings

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_RETRY_DELAY_SECONDS = 60.0
PUBLISH_COMMAND_TIMEOUT_SECONDS = 600
LOGGED_OUTPUT_CHARS = 2000
# Builds of single deliveries that fail in a row, with no success in the round, before the round
# stops: when every delivery fails alone, the cause is not one delivery (the OSM API is down, say).
ISOLATION_PROBES = 3
# Given-up deliveries that /healthz lists; the count covers all of them.
REPORTED_GIVEN_UP = 20

BuildFunction = Callable[[LoadedConfig, BuildOptions], BuildReport]


@dataclass
class WorkerHealth:
    """The build state that ``GET /healthz`` reports.

    Attributes:
        status: ``degraded`` from a failed build until a round of builds without a failure, else
            ``ok``. A delivery that was given up keeps it degraded until such a round too.
        last_error: the error of the last failed build in that time, else None.
        given_up: the newest deliveries given up in that time, with their errors.
        given_up_count: how many deliveries were given up in that time.
    """

    status: str = "ok"
    last_error: str | None = None
    given_up: list[dict[str, str]] = field(default_factory=list)
    given_up_count: int = 0


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
        self._last_error: str | None = None
        self._given_up: list[dict[str, str]] = []
        self._given_up_count = 0
        self._state_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="osm-webhook-builds", daemon=True)

    def start(self) -> None:
        pending = self.journal.pending_count()
        if pending:
            logger.info("%d deliveries are pending from before the last stop; they will be built", pending)
        self._thread.start()

    def notify(self) -> None:
        """Wake the loop after a delivery was stored."""
        self._wake.set()

    def health(self) -> WorkerHealth:
        """Return the build state for ``GET /healthz``."""
        with self._state_lock:
            degraded = self._last_error is not None or self._given_up_count > 0
            return WorkerHealth(
                status="degraded" if degraded else "ok", last_error=self._last_error,
                given_up=list(self._given_up), given_up_count=self._given_up_count,
            )

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
        """Run one round of builds: new deliveries together, then each delivery alone where needed."""
        deliveries = self.journal.pending()
        if not deliveries:
            return
        fresh = [delivery for delivery in deliveries if delivery.attempts == 0]
        alone = [delivery for delivery in deliveries if delivery.attempts > 0]
        succeeded = False
        failures = 0

        # Build the deliveries that never failed together; when that fails, build each alone.
        if fresh:
            error = self._run_build(fresh)
            if error is None:
                succeeded = True
            elif len(fresh) == 1:
                failures += 1
                self._count_failure(fresh[0], error)
            else:
                logger.warning("Build for %d deliveries failed; building each of them alone to find the "
                               "ones that fail", len(fresh))
                alone = sorted(fresh + alone, key=lambda delivery: delivery.seq)

        # Build the others alone, counting a failed attempt for each that fails.
        for index, delivery in enumerate(alone):
            if self._stopping.is_set():
                return
            if not succeeded and failures >= ISOLATION_PROBES:
                logger.warning("%d deliveries failed alone as well, so the builds fail for a reason other "
                               "than one delivery; %d deliveries wait for the next round",
                               failures, len(alone) - index)
                break
            error = self._run_build([delivery])
            if error is None:
                succeeded = True
            else:
                failures += 1
                self._count_failure(delivery, error)

        if failures:
            self._schedule_retry()
        else:
            self._end_round()

    def _run_build(self, deliveries: list[StoredDelivery]) -> str | None:
        """Build and publish the union of ``deliveries`` and mark them done.

        Returns:
            None when the build was published, else its error message.
        """
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
            message = str(error)
        except Exception as error:  # noqa: BLE001 - a bug in one build must not stop the server
            logger.exception("Build for %d deliveries raised an unexpected error", len(rebuild.seqs))
            message = f"{type(error).__name__}: {error}"
        else:
            self.journal.mark_done(rebuild.seqs, list(rebuild.prices.values()))
            exit_status = run_publish_command(self.webhooks.publish_command, self.config, report.published)
            self.last_build = self._result(rebuild, started, ok=True, published=report.published,
                                           publish_command_exit=exit_status)
            logger.info("Published %s for %d deliveries in %.1f s", report.published, len(rebuild.seqs),
                        time.monotonic() - started)
            return None

        names = ", ".join(delivery.delivery_id for delivery in deliveries[:10])
        logger.error("Build for %d deliveries (%s%s) failed: %s", len(deliveries), names,
                     ", ..." if len(deliveries) > 10 else "", message)
        self.last_build = self._result(rebuild, started, ok=False, error=message)
        with self._state_lock:
            self._last_error = message
        return message

    def _count_failure(self, delivery: StoredDelivery, error: str) -> None:
        """Count a failed build of ``delivery`` alone, and give up on it after ``MAX_ATTEMPTS``."""
        if not self.journal.mark_failed_attempt(delivery.seq, error[:1000], MAX_ATTEMPTS):
            logger.warning("Delivery %s from %s failed alone (attempt %d of %d)", delivery.delivery_id,
                           delivery.source, delivery.attempts + 1, MAX_ATTEMPTS)
            return
        logger.error("Gave up on delivery %s from %s after %d failed builds: %s; fix the cause and run "
                     "`osm-build build`", delivery.delivery_id, delivery.source, MAX_ATTEMPTS, error)
        with self._state_lock:
            self._given_up.append({"source": delivery.source, "delivery_id": delivery.delivery_id,
                                   "error": error[:1000]})
            del self._given_up[:-REPORTED_GIVEN_UP]
            self._given_up_count += 1

    def _schedule_retry(self) -> None:
        self._failures += 1
        delay = min(MAX_RETRY_DELAY_SECONDS, 2.0 ** self._failures)
        self._retry_at = time.time() + delay
        logger.info("Retrying the failed deliveries in %g s", delay)

    def _end_round(self) -> None:
        """Reset the retry delay and the degraded state after a round without a failed build."""
        self._failures = 0
        self._retry_at = 0.0
        with self._state_lock:
            self._last_error = None
            self._given_up.clear()
            self._given_up_count = 0

    def _prices_for(self, rebuild: Rebuild) -> dict:
        """Merge kept webhook prices newer than the catalog file with this rebuild's prices; the newer wins."""
        prices = {(p.product, p.variant, p.locale): p
                  for p in self.journal.stored_prices(newer_than=catalog_mtime(self.config))}
        for key, price in rebuild.prices.items():
            kept = prices.get(key)
            if kept is None or kept.received_at <= price.received_at:
                prices[key] = price
        return prices

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
