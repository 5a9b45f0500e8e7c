"""The build: catalog, plan, fetch, render, fill pages, publish.

``run_build`` reads as the recipe. Each stage lives in its own module; this one only wires them
together and decides what a failed request means for the published site.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from osm_build.assets import load_beacon_script
from osm_build.catalog import read_catalog
from osm_build.config import LoadedConfig
from osm_build.errors import OsmBuildError
from osm_build.fetch import FetchReport, OsmAnswer, OsmRequest, fetch_answers_sync, resolve_base_url
from osm_build.itemindex import ItemIndex
from osm_build.output import (
    MANIFEST_NAME, REPORT_NAME, Fragment, PageFiller, write_fragments, write_manifest,
    write_product_fragments,
)
from osm_build.plan import Plan, build_plan
from osm_build.publish import Publisher
from osm_build.render import FragmentRenderer, _is_loopback
from osm_build.report import BuildReport

logger = logging.getLogger(__name__)


class StrictModeError(OsmBuildError):
    """Raised by ``--strict`` when the build had failures it would otherwise publish around."""


@dataclass
class BuildOptions:
    """Choices made on the command line for one build."""

    strict: bool = False
    now: datetime | None = None
    on_fetch_progress: Callable[[int, int], None] | None = None
    extra: dict = field(default_factory=dict)


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

    with tempfile.TemporaryDirectory(prefix="osm-build-") as scratch:
        # Read the catalog and plan one request per distinct (placement, locale, amount).
        index = ItemIndex(Path(scratch) / "items.sqlite")
        items = read_catalog(
            settings.catalog, settings.markets, base_dir=config.base_dir, report=report.catalog, now=now
        )
        plan = build_plan(items, settings.placements, locales, index)
        report.products = len(plan.products)
        report.distinct_requests = len(plan.requests)
        logger.info("Planned %d distinct requests for %d products", len(plan.requests), len(plan.products))

        # Fetch each distinct request once (the cache may answer some without a request).
        answers = fetch_plan(config, plan, report.fetch, options)

        # Render each answer once; a failed request falls back to the last published fragment.
        renderer = FragmentRenderer(
            config.resolve(settings.templates) if settings.templates else None,
            allow_loopback_http=allows_loopback_http(config),
        )
        publisher = Publisher(config.resolve(settings.output.directory))
        previous = PreviousOutput(publisher.current(), settings.output.assets_path)
        fragments = render_fragments(settings.placements, answers, renderer, previous, report)
        if options.strict and (report.failed or report.stale):
            raise StrictModeError(
                f"--strict: {len(report.failed)} requests failed and {len(report.stale)} fragments "
                "would be served stale; nothing was published"
            )

        # Write fragments, pages, script and manifest into a staging folder, then swap it in.
        staging = publisher.stage()
        try:
            write_output(config, staging, index, fragments, renderer, report, now)
        except BaseException:
            publisher.abandon(staging)
            raise
        release = publisher.publish(staging)
        report.published = str(release)
        index.close()

    logger.info("Published %s", publisher.output)
    return report


def fetch_plan(config: LoadedConfig, plan: Plan, fetch_report: FetchReport, options: BuildOptions) -> dict:
    """Fetch every planned request, starting the embedded emulator when the config asks for it."""
    settings = config.settings
    cache_dir = config.resolve(settings.cache.directory) if settings.cache.enabled else None
    with embedded_emulator(config) as emulator_url:
        base_url = resolve_base_url(settings.klarna, emulator_url=emulator_url)
        return fetch_answers_sync(
            plan.sorted_requests(), settings.klarna, base_url=base_url, cache_dir=cache_dir,
            api_key=config.api_key(), report=fetch_report, on_progress=options.on_fetch_progress,
        )


@contextlib.contextmanager
def embedded_emulator(config: LoadedConfig) -> Iterator[str | None]:
    """Run the OSM emulator on 127.0.0.1 for the build when ``environment: emulator`` has no base_url."""
    klarna = config.settings.klarna
    if klarna.environment != "emulator" or klarna.base_url:
        yield None
        return
    from osm_build.emulator.server import start_emulator

    emulator = start_emulator(config.settings.emulator)
    try:
        logger.info("Started the embedded OSM emulator at %s (not Klarna)", emulator.base_url)
        yield emulator.base_url
    finally:
        emulator.stop()


def allows_loopback_http(config: LoadedConfig) -> bool:
    """Return whether ``http:`` URLs on loopback hosts are accepted in answers (emulator only)."""
    klarna = config.settings.klarna
    if klarna.environment == "emulator":
        return True
    return bool(klarna.base_url and _is_loopback(urlsplit(klarna.base_url).hostname or ""))


class PreviousOutput:
    """The fragments of the currently published release, for fallback when a request fails."""

    def __init__(self, release: Path | None, assets_path: str) -> None:
        self.assets = release / assets_path if release else None
        self.fragments: dict = {}
        manifest = self.assets / MANIFEST_NAME if self.assets else None
        if manifest and manifest.is_file():
            try:
                self.fragments = json.loads(manifest.read_text(encoding="utf-8")).get("fragments", {})
            except (OSError, ValueError) as error:
                logger.warning("Cannot read the previous manifest %s (%s); no fallback fragments", manifest, error)

    def fragment_html(self, key: str) -> str | None:
        entry = self.fragments.get(key)
        if not entry or not entry.get("file") or entry.get("status") == "failed":
            return None
        try:
            return (self.assets / entry["file"]).read_text(encoding="utf-8").strip()
        except OSError:
            return None


def render_fragments(placements, answers: dict[OsmRequest, OsmAnswer], renderer: FragmentRenderer,
                     previous: PreviousOutput, report: BuildReport) -> dict[OsmRequest, Fragment]:
    """Render every answer once and decide what a failed answer publishes."""
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
        fragment = Fragment(request=request, html=html, status="ok", expires_at=answer.expires_at,
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
    report.write(assets / REPORT_NAME)
