"""The build: catalog, plan, fetch, render, fill pages, publish.

``run_build`` reads as the recipe. Each stage lives in its own module; this one only wires them
together and decides what a failed request means for the published site.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from osm_build.assets import load_beacon_script
from osm_build.catalog import read_catalog
from osm_build.catalog.amounts import MAX_PURCHASE_AMOUNT
from osm_build.catalog.model import PricedItem
from osm_build.config import LoadedConfig
from osm_build.errors import CatalogError, FetchError, OsmBuildError
from osm_build.fetch import (
    FetchPolicy, FetchReport, OsmAnswer, OsmRequest, RetryPolicy, fetch_answers_sync, resolve_base_url,
)
from osm_build.itemindex import ItemIndex
from osm_build.manifest import pages_showing
from osm_build.manifest import read_products as read_manifest_products
from osm_build.manifest import read_section as read_manifest_section
from osm_build.output import (
    MANIFEST_NAME, REPORT_NAME, Fragment, PageFiller, link_tree, write_fragments, write_manifest,
    write_new_file, write_product_fragments,
)
from osm_build.plan import Plan, build_plan
from osm_build.publish import Publisher
from osm_build.render import FragmentRenderer, _is_loopback
from osm_build.sharing import share_tree, shared_staging
from osm_build.report import BuildReport

logger = logging.getLogger(__name__)


class StrictModeError(OsmBuildError):
    """Raised by ``--strict`` when the build had failures it would otherwise publish around."""


@dataclass
class BuildOptions:
    """Choices made on the command line or by a webhook for one build.

    Attributes:
        strict: fail instead of publishing around failed or stale requests.
        now: the build time that sale windows are judged at (default: now, UTC).
        on_fetch_progress: called with (done, total) as responses arrive.
        only_products: rebuild only these product ids and the pages that show them, on top of
            the published release. Without a published release the build is a full one.
        price_overrides: items whose prices replace the catalog's items with the same product,
            variant and locale (a webhook payload may carry prices newer than the catalog
            export). With ``only_products`` their products are rebuilt too.
    """

    strict: bool = False
    now: datetime | None = None
    on_fetch_progress: Callable[[int, int], None] | None = None
    only_products: frozenset[str] | None = None
    price_overrides: list[PricedItem] | None = None


def run_build(config: LoadedConfig, options: BuildOptions | None = None) -> BuildReport:
    """Build the site described by ``config`` and publish it atomically.

    Raises:
        OsmBuildError: when a stage cannot go on; the published site is then unchanged.
    """
    options = options or BuildOptions()
    settings = config.settings
    report = BuildReport()
    now = options.now or datetime.now(UTC)
    locales = [market.locale for market in settings.markets]

    publisher = Publisher(config.resolve(settings.output.directory))
    previous = PreviousOutput(publisher.current(), settings.output.assets_path)
    scope = incremental_scope(options, previous)

    with tempfile.TemporaryDirectory(prefix="osm-build-") as scratch:
        # Read the catalog (only the products in scope for an incremental build) and plan one
        # request per distinct (placement, locale, amount).
        index = ItemIndex(Path(scratch) / "items.sqlite")
        if scope is not None and scope.covered_by(options.price_overrides):
            # Every changed product comes with its new prices, so the catalog export need not be
            # read: the other products on the affected pages keep their published amounts.
            items = previous.items_for(scope.products)
        else:
            items = read_catalog(
                settings.catalog, settings.markets, base_dir=config.base_dir, report=report.catalog, now=now,
                products=scope.products if scope is not None else None,
            )
        if scope is not None:
            items = scope.select(items)
        if options.price_overrides:
            items = apply_price_overrides(items, options.price_overrides)
        with report.timed("read_and_plan"):
            plan = build_plan(items, settings.placements, locales, index)
        report.products = len(plan.products)
        report.distinct_requests = len(plan.requests)
        report_catalog_gaps(index, plan, scope, report)
        logger.info("Planned %d distinct requests for %d products", len(plan.requests), len(plan.products))

        # Fetch each distinct request once; fresh cache entries need no request at all.
        with report.timed("fetch"):
            answers = fetch_plan(config, plan, report.fetch, options)

        # Render each response once; a failed request falls back to the last published fragment.
        renderer = FragmentRenderer(
            config.resolve(settings.templates) if settings.templates else None,
            allow_loopback_http=allows_loopback_http(config),
        )
        with report.timed("render"):
            fragments = render_fragments(settings.placements, answers, renderer, previous, report)
        check_publishable(report, scope)

        # Write fragments, pages, script and manifest into a staging folder, then swap it in.
        staging = publisher.stage()
        try:
            with report.timed("write"):
                if scope is None:
                    write_output(config, staging, index, fragments, renderer, report, now)
                else:
                    write_incremental_output(config, staging, previous, scope, index, fragments, renderer, report, now)
            # The report goes into the release too; it has every stage's time but the publish.
            report.write(staging / settings.output.assets_path / REPORT_NAME)
            if options.strict:
                check_strict(report)
        except BaseException:
            publisher.abandon(staging)
            raise
        with report.timed("publish"):
            release = publisher.publish(staging)
        report.published = str(release)
        index.close()

    logger.info("Published %s", publisher.output)
    return report


def report_catalog_gaps(index: ItemIndex, plan: Plan, scope: IncrementalScope | None, report: BuildReport) -> None:
    """Report products priced twice in one market and --only ids that the catalog lacks."""
    for product, variant, locale, amounts, sources in index.duplicates():
        name = product if variant is None else f"{product} variant {variant}"
        report.problem(
            f"product {name} is priced {len(amounts)} times for {locale} ({', '.join(sources)}: "
            f"{', '.join(map(str, amounts))}); pages show the first, so remove the duplicate rows"
        )
    if scope is not None:
        for product in sorted(scope.changed - plan.products):
            report.problem(f"--only {product}: no priced item with this product id in the catalog")


def check_publishable(report: BuildReport, scope: IncrementalScope | None) -> None:
    """Refuse to publish a full build that would show no message because of its inputs or the API.

    Raises:
        CatalogError: if the catalog gave no priced item at all.
        FetchError: if every request failed and no cached or published fragment replaces one.
    """
    if scope is None and report.catalog.items_priced == 0:
        raise CatalogError(
            f"the catalog gave no priced item ({report.catalog.rows_read} rows read, "
            f"{report.catalog.rows_skipped} skipped, {report.catalog.market_mismatches} market mismatches); "
            "nothing was published. Check catalog.path, catalog.format and the markets' currencies"
        )
    answered = report.distinct_requests - len(report.failed)
    if report.failed and answered == 0:
        raise FetchError(
            f"all {len(report.failed)} requests failed and no earlier fragment can replace them, so "
            f"nothing was published. First failure: {report.failed[0]}"
        )


def check_strict(report: BuildReport) -> None:
    """Apply --strict before publishing: any failure, stale fragment, bad row or page problem.

    Raises:
        StrictModeError: naming the counts; the staging folder is then discarded.
    """
    counts = {
        "failed requests": len(report.failed),
        "stale fragments": len(report.stale),
        "catalog rows with errors": report.catalog.row_errors,
        "page problems": report.warnings_count,
    }
    found = {name: count for name, count in counts.items() if count}
    if found:
        listed = ", ".join(f"{count} {name}" for name, count in found.items())
        raise StrictModeError(f"--strict: {listed}; nothing was published (see the warnings above)")


def fetch_plan(config: LoadedConfig, plan: Plan, fetch_report: FetchReport, options: BuildOptions) -> dict:
    """Fetch every planned request, starting the embedded emulator when the config selects it."""
    settings = config.settings
    cache_dir = config.resolve(settings.cache.directory) if settings.cache.enabled else None
    retry = settings.klarna.retry
    with embedded_emulator(config) as emulator_url:
        policy = FetchPolicy(
            retry=RetryPolicy(
                max_attempts=retry.max_attempts, backoff_factor=retry.backoff_seconds,
                backoff_jitter=retry.backoff_jitter, max_wait_seconds=retry.max_wait_seconds,
                max_total_wait_seconds=retry.max_total_wait_seconds,
            ),
            max_stale_seconds=settings.cache.max_stale_seconds,
            cache_namespace="embedded-emulator" if emulator_url else None,
        )
        base_url = resolve_base_url(settings.klarna, emulator_url=emulator_url)
        return fetch_answers_sync(
            plan.sorted_requests(), settings.klarna, base_url=base_url, cache_dir=cache_dir,
            api_key=config.api_key(), report=fetch_report, on_progress=options.on_fetch_progress,
            policy=policy,
        )


@contextlib.contextmanager
def embedded_emulator(config: LoadedConfig) -> Iterator[str | None]:
    """Run the OSM emulator on 127.0.0.1 for the build when ``environment: emulator`` has no base_url."""
    klarna = config.settings.klarna
    if klarna.environment != "emulator" or klarna.base_url:
        yield None
        return
    from osm_build.emulator.server import start_emulator

    # The embedded emulator accepts the configured client id and v4 key unless the config lists
    # its own, so that switching environment: emulator on needs no other change.
    emulator_settings = config.settings.emulator
    chosen = emulator_settings.model_fields_set
    updates = {}
    if "client_ids" not in chosen:
        updates["client_ids"] = (klarna.client_id,)
    if "api_key_env" not in chosen:
        updates["api_key_env"] = klarna.api_key_env
    emulator = start_emulator(emulator_settings.model_copy(update=updates))
    try:
        logger.info("Started the embedded OSM emulator at %s (not Klarna)", emulator.base_url)
        yield emulator.base_url
    finally:
        emulator.stop()


def allows_loopback_http(config: LoadedConfig) -> bool:
    """Return whether ``http:`` URLs on loopback hosts are accepted in responses (emulator only)."""
    klarna = config.settings.klarna
    if klarna.environment == "emulator":
        return True
    return bool(klarna.base_url and _is_loopback(urlsplit(klarna.base_url).hostname or ""))


class PreviousOutput:
    """The currently published release: fallback fragments and the base of incremental builds.

    Its manifest is read by sections and only as far as a build needs, because at a million
    products it is hundreds of megabytes.
    """

    def __init__(self, release: Path | None, assets_path: str) -> None:
        self.release = release
        self.assets = release / assets_path if release else None
        self.manifest_path = self.assets / MANIFEST_NAME if self.assets else None
        self._fragments: dict | None = None

    @property
    def exists(self) -> bool:
        """Whether a release with a manifest is published."""
        return bool(self.manifest_path and self.manifest_path.is_file())

    @property
    def fragments(self) -> dict:
        """The published fragments by key, read on first use; empty when unreadable."""
        if self._fragments is None:
            self._fragments = {}
            if self.exists:
                try:
                    self._fragments = read_manifest_section(self.manifest_path, "fragments")
                except (OSError, ValueError) as error:
                    logger.warning("Cannot read the published manifest %s (%s); no fallback fragments",
                                   self.manifest_path, error)
        return self._fragments

    def items_for(self, products: Iterable[str]) -> Iterator[PricedItem]:
        """Yield the published items of ``products`` as the manifest records them."""
        if not self.exists:
            return
        for product, entries in read_manifest_products(self.manifest_path, products).items():
            for entry in entries:
                changes_at = entry.get("price_changes_at")
                yield PricedItem(
                    product=product, variant=entry.get("variant"), title="", locale=entry["locale"],
                    purchase_amount=entry["purchase_amount"], source=entry.get("source") or "published release",
                    price_changes_at=datetime.fromisoformat(changes_at) if changes_at else None,
                )

    def fragment_html(self, key: str) -> str | None:
        entry = self.fragments.get(key)
        if not entry or not entry.get("file") or entry.get("status") == "failed":
            return None
        try:
            return (self.assets / entry["file"]).read_text(encoding="utf-8").strip()
        except OSError:
            return None


@dataclass
class IncrementalScope:
    """The products an incremental build re-reads and the pages it fills again."""

    changed: frozenset[str]
    products: frozenset[str]
    pages: list[str]

    def covered_by(self, overrides: list[PricedItem] | None) -> bool:
        """Return whether every changed product has new prices in ``overrides``."""
        return bool(overrides) and self.changed <= {item.product for item in overrides}

    def select(self, items: Iterable[PricedItem]) -> Iterator[PricedItem]:
        """Keep the catalog items of the products in scope."""
        products = self.products
        return (item for item in items if item.product in products)


def apply_price_overrides(items: Iterable[PricedItem], overrides: list[PricedItem]) -> Iterator[PricedItem]:
    """Replace catalog items by the override with the same (product, variant, locale).

    An override takes its catalog item's place, so the catalog order (and with it the variant a
    page shows first) stays. Overrides without a catalog item follow at the end.
    """
    pending = {
        (item.product, item.variant, item.locale): item
        for item in overrides
        if 0 < item.purchase_amount <= MAX_PURCHASE_AMOUNT
    }
    for item in items:
        override = pending.pop((item.product, item.variant, item.locale), None)
        yield override if override is not None else item
    yield from pending.values()


def incremental_scope(options: BuildOptions, previous: PreviousOutput) -> IncrementalScope | None:
    """Work out what an incremental build touches, or return None for a full build."""
    if options.only_products is None:
        return None
    if not previous.exists:
        logger.info("No published release with a manifest yet, so this build is a full one")
        return None
    changed = set(options.only_products)
    changed.update(item.product for item in options.price_overrides or [])
    shown = pages_showing(previous.manifest_path, changed)
    pages = list(shown)
    products = set(changed)
    for listed in shown.values():
        products.update(listed)
    logger.info("Incremental build: %d changed products, %d pages to fill again", len(changed), len(pages))
    return IncrementalScope(changed=frozenset(changed), products=frozenset(products), pages=pages)


def render_fragments(placements, answers: dict[OsmRequest, OsmAnswer], renderer: FragmentRenderer,
                     previous: PreviousOutput, report: BuildReport) -> dict[OsmRequest, Fragment]:
    """Render every response once and decide what a failed request publishes."""
    templates = {placement.key: placement.template_name for placement in placements}
    fragments = {}
    for request, answer in answers.items():
        problems: list[str] = []
        html = ""
        if answer.body is not None:
            html = renderer.render(
                templates[request.placement_key], placement_key=request.placement_key,
                locale=request.locale, purchase_amount=request.purchase_amount, body=answer.body,
                problems=problems,
            )
        # A response that may not be reused (no-store, no-cache, max-age=0) expires at once, so
        # that `osm-build check` asks for a rebuild instead of trusting it forever.
        fragment = Fragment(request=request, html=html, status="ok",
                            expires_at=answer.expires_at or answer.fetched_at,
                            correlation_id=answer.correlation_id)
        if answer.failed and answer.cache_status != "stale":
            fallback = previous.fragment_html(fragment.key)
            if fallback:
                fragment.html, fragment.status = fallback, "stale"
                report.stale.append(f"{fragment.key}: {answer.error} (kept the published fragment)")
            else:
                fragment.status = "failed"
                report.failed.append(f"{fragment.key}: {answer.error}")
        elif answer.failed:
            fragment.status = "stale"
            report.stale.append(f"{fragment.key}: {answer.error} (served the cached answer)")
        elif not html:
            fragment.status = "empty"
            report.empty_answers += 1
        for problem in problems:
            report.problem(f"{fragment.key}: {problem}")
        fragments[request] = fragment
    return fragments


def write_output(config: LoadedConfig, staging: Path, index: ItemIndex, fragments: dict,
                 renderer: FragmentRenderer, report: BuildReport, now: datetime) -> None:
    """Write the whole site into ``staging``."""
    settings = config.settings
    assets = staging / settings.output.assets_path
    assets.mkdir(parents=True, exist_ok=True)
    beacon = load_beacon_script(config.resolve(settings.templates) if settings.templates else None)
    (assets / beacon.file_name).write_bytes(beacon.content)

    write_fragments(assets, fragments.values(), report)
    if settings.output.product_fragments:
        amount_keys = [placement.key for placement in settings.placements if placement.takes_amount]
        write_product_fragments(assets, index, fragments, amount_keys)

    page_products: dict[str, list[str]] = {}
    if settings.site is not None:
        filler = PageFiller(config, index, fragments, renderer, beacon, report)
        page_products = filler.fill_site(config.resolve(settings.site.pages), staging)

    write_manifest(assets, config, fragments, index, page_products, now)


def write_incremental_output(config: LoadedConfig, staging: Path, previous: PreviousOutput,
                             scope: IncrementalScope, index: ItemIndex, fragments: dict,
                             renderer: FragmentRenderer, report: BuildReport, now: datetime) -> None:
    """Write a new release that shares unchanged files with the published one.

    Unchanged files are hard links into the published release (or, with
    ``output.share_unchanged_folders``, unchanged folders are links to their owner release), and
    every file this build writes is a new file in a real folder, so the published release never
    changes.
    """
    settings = config.settings
    if settings.output.share_unchanged_folders:
        share_tree(previous.release, staging)
        with shared_staging(staging):
            _write_incremental_files(config, staging, previous, scope, index, fragments, renderer, report, now)
    else:
        link_tree(previous.release, staging)
        _write_incremental_files(config, staging, previous, scope, index, fragments, renderer, report, now)


def _write_incremental_files(config: LoadedConfig, staging: Path, previous: PreviousOutput,
                             scope: IncrementalScope, index: ItemIndex, fragments: dict,
                             renderer: FragmentRenderer, report: BuildReport, now: datetime) -> None:
    settings = config.settings
    assets = staging / settings.output.assets_path
    beacon = load_beacon_script(config.resolve(settings.templates) if settings.templates else None)
    if not (assets / beacon.file_name).exists():
        write_new_file(assets / beacon.file_name, beacon.content)

    write_fragments(assets, fragments.values(), report)
    if settings.output.product_fragments:
        amount_keys = [placement.key for placement in settings.placements if placement.takes_amount]
        write_product_fragments(assets, index, fragments, amount_keys)

    page_products: dict[str, list[str]] = {}
    if settings.site is not None and scope.pages:
        filler = PageFiller(config, index, fragments, renderer, beacon, report)
        page_products = filler.fill_pages(config.resolve(settings.site.pages), staging, scope.pages)

    write_manifest(assets, config, fragments, index, page_products, now,
                   previous_manifest=previous.manifest_path, replaced_products=scope.products)
