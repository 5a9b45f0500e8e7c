"""Write fragments, filled pages, the beacon script and the manifest into a staging folder."""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from markupsafe import Markup

from osm_build.assets import BeaconScript, safe_file_name
from osm_build.config import LoadedConfig
from osm_build.fetch import OsmRequest
from osm_build.inject import Placeholder, fill_page, page_language
from osm_build.itemindex import ItemIndex
from osm_build.manifest import PRODUCTS_MARKER, iter_product_lines, iter_section_lines
from osm_build.render import FragmentRenderer
from osm_build.sharing import materialize
from osm_build.report import BuildReport

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
SLOT_CACHE_SIZE = 20_000
REPORT_NAME = "build-report.json"


@dataclass
class Fragment:
    """The rendered response for one distinct request."""

    request: OsmRequest
    html: str
    status: str  # "ok", "empty", "stale" or "failed"
    expires_at: datetime | None = None
    correlation_id: str | None = None

    @property
    def key(self) -> str:
        amount = "site" if self.request.purchase_amount is None else str(self.request.purchase_amount)
        return f"{self.request.placement_key}/{self.request.locale}/{amount}"

    @property
    def relative_path(self) -> str:
        return f"fragments/{self.key}.html"


@dataclass
class SlotFragment:
    """One amount of a product inside a placeholder; the slot template reads these fields."""

    amount: int | None
    html: Markup
    variants: list[str] = field(default_factory=list)
    empty: bool = False


def write_new_file(path: Path, content: str | bytes) -> None:
    """Write ``content`` to a new file at ``path``, replacing any file there instead of changing it.

    An incremental build's staging folder starts as hard links into the published release, so
    writing into an existing file would change the published site too.
    """
    ensure_folder(path.parent)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


# Folders known to exist, so that writing many pages does not ask the file system each time.
_created_folders: set[Path] = set()


def ensure_folder(folder: Path) -> None:
    """Create ``folder`` and its parents unless this process already did.

    In a staging folder that shares folders with older releases, linked folders on the way
    become real first, so that nothing is written into a published release.
    """
    if folder in _created_folders:
        return
    materialize(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(_created_folders) > 100_000:
        _created_folders.clear()
    _created_folders.add(folder)


def link_tree(source: Path, target: Path) -> None:
    """Fill ``target`` with hard links to every file under ``source``.

    This is the floor of an incremental build's cost: one link per published file (about 25 µs
    each on the benchmark machine of BENCHMARKS.md). Plain ``os`` calls keep Python's share small.
    """
    source_text, target_text = str(source), str(target)
    link = os.link
    for folder, _, file_names in os.walk(source_text):
        relative = os.path.relpath(folder, source_text)
        destination = target_text if relative == "." else os.path.join(target_text, relative)
        os.makedirs(destination, exist_ok=True)
        for name in file_names:
            link(f"{folder}/{name}", f"{destination}/{name}")


def write_fragments(assets: Path, fragments: Iterable[Fragment], report: BuildReport) -> None:
    """Write each distinct fragment once, under ``fragments/<placement>/<locale>/<amount>.html``."""
    for fragment in fragments:
        if not fragment.html:
            continue
        write_new_file(assets / fragment.relative_path, fragment.html + "\n")
        report.fragments_written += 1


def write_product_fragments(
    assets: Path, index: ItemIndex, fragments: dict[OsmRequest, Fragment], placement_keys: list[str]
) -> None:
    """Write one fragment file per product, variant, placement and market, with safe names."""
    for product, items in index.iter_by_product():
        folder = assets / "products" / safe_file_name(product)
        for item in items:
            for key in placement_keys:
                fragment = fragments.get(OsmRequest(key, item.locale, item.purchase_amount))
                if fragment is None or not fragment.html:
                    continue
                variant = safe_file_name(item.variant) if item.variant else "product"
                path = folder / key / item.locale / f"{variant}.html"
                ensure_folder(path.parent)
                _check_inside(assets, path)
                write_new_file(path, fragment.html + "\n")


def _check_inside(root: Path, path: Path) -> None:
    # safe_file_name already prevents escapes; this guards the invariant against later changes.
    assert os.path.commonpath([root.resolve(), path.resolve()]) == str(root.resolve()), path


class PageFiller:
    """Fills the placeholders of the site's pages from the index and the rendered fragments."""

    def __init__(
        self, config: LoadedConfig, index: ItemIndex, fragments: dict[OsmRequest, Fragment],
        renderer: FragmentRenderer, beacon: BeaconScript, report: BuildReport,
    ) -> None:
        self.settings = config.settings
        self.index = index
        self.fragments = fragments
        self.slot_template = renderer.template("placement-slot.html")
        # Many products share their amounts and variants layout, so a slot rendered once is
        # reused, unless the site's slot template shows the product id itself.
        self._slot_cache: dict[tuple, str] = {}
        self._slot_uses_product = renderer.template_uses("placement-slot.html", "product")
        self.beacon = beacon
        self.report = report
        self.placement_keys = {placement.key for placement in self.settings.placements}
        self.locales = [market.locale for market in self.settings.markets]

    def fill_site(self, pages_root: Path, staging: Path) -> dict[str, list[str]]:
        """Copy the site's pages into ``staging``, filling placeholders on the way.

        Returns:
            The products each page contains, by page path, for the manifest.
        """
        assets_path = self.settings.output.assets_path
        page_products: dict[str, list[str]] = {}
        for source in sorted(pages_root.rglob("*")):
            relative = source.relative_to(pages_root)
            target = staging / relative
            if source.is_dir() or relative.parts[0] == assets_path:
                continue
            ensure_folder(target.parent)
            if source.suffix.lower() not in (".html", ".htm"):
                shutil.copy2(source, target)
                continue
            script_src = os.path.relpath(staging / assets_path / self.beacon.file_name, target.parent)
            products = self._fill_file(source, target, relative.as_posix(), script_src.replace(os.sep, "/"))
            if products:
                page_products[relative.as_posix()] = products
        return page_products

    def fill_pages(self, pages_root: Path, staging: Path, pages: list[str]) -> dict[str, list[str]]:
        """Fill only the named pages (paths relative to ``pages_root``) again from their sources."""
        assets_path = self.settings.output.assets_path
        page_products: dict[str, list[str]] = {}
        for page in pages:
            source = pages_root / page
            target = staging / page
            if not source.is_file():
                logger.warning("Page %s is in the manifest but no longer in %s; it was not filled", page, pages_root)
                continue
            script_src = os.path.relpath(staging / assets_path / self.beacon.file_name, target.parent)
            page_products[page] = self._fill_file(source, target, page, script_src.replace(os.sep, "/"))
        return page_products

    def _fill_file(self, source: Path, target: Path, page_name: str, script_src: str) -> list[str]:
        raw = source.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            self.report.problem(
                f"{page_name}: not UTF-8 text (invalid byte at offset {error.start}), so it was copied "
                "without filling placeholders; save the page as UTF-8"
            )
            write_new_file(target, raw)
            return []
        page_locale = self._page_locale(page_language(text))
        products: list[str] = []

        def render(placeholder: Placeholder) -> str | None:
            html = self._render_placeholder(placeholder, page_locale, page_name)
            if placeholder.product:
                products.append(placeholder.product)
            if html is None:
                self.report.placeholders_empty += 1
            return html

        script_tag = self.beacon.tag(
            script_src, mode=self.settings.beacon.mode,
            count_back_forward_cache=self.settings.beacon.count_back_forward_cache,
        )
        result = fill_page(text, render, script_tag, page_name)
        for problem in result.problems:
            self.report.problem(problem)
        self.report.placeholders_filled += result.filled
        write_new_file(target, result.text)
        self.report.pages_written += 1
        return products

    def _page_locale(self, language: str | None) -> str:
        if language:
            for locale in self.locales:
                if locale.lower() == language.lower():
                    return locale
            for locale in self.locales:
                if locale.split("-")[0] == language.lower():
                    return locale
        return self.locales[0]

    def _render_placeholder(self, placeholder: Placeholder, page_locale: str, page_name: str) -> str | None:
        where = f"{page_name}:{placeholder.line}"
        key = placeholder.placement_key
        locale = placeholder.attributes.get("data-osm-locale", page_locale)
        if key not in self.placement_keys:
            self.report.problem(f"{where}: placement {key!r} is not configured under placements; add it or fix the page")
            return None
        if locale not in self.locales:
            self.report.problem(f"{where}: locale {locale!r} is not one of the configured markets {self.locales}")
            return None

        if key == "top-strip-promotion-badge":
            fragment = self.fragments.get(OsmRequest(key, locale, None))
            slots = [SlotFragment(amount=None, html=Markup(fragment.html if fragment else ""),
                                  empty=not (fragment and fragment.html))]
            return self._render_slot(key, locale, None, slots, None)

        product = placeholder.product
        if not product:
            self.report.problem(f"{where}: placement {key!r} needs a data-osm-product attribute")
            return None
        amounts = self.index.amounts_for(product, locale)
        if not amounts:
            self.report.problem(f"{where}: product {product!r} has no price for {locale} in the catalog")
            return None

        slots_by_amount: dict[int, SlotFragment] = {}
        for variant, amount in amounts:
            slot = slots_by_amount.get(amount)
            if slot is None:
                fragment = self.fragments.get(OsmRequest(key, locale, amount))
                html = fragment.html if fragment else ""
                slot = SlotFragment(amount=amount, html=Markup(html), empty=not html)
                slots_by_amount[amount] = slot
            if variant:
                slot.variants.append(variant)
        active = self._active_amount(placeholder, amounts)
        slots = list(slots_by_amount.values())
        if all(slot.empty for slot in slots):
            return None
        return self._render_slot(key, locale, product, slots, active)

    @staticmethod
    def _active_amount(placeholder: Placeholder, amounts: list[tuple[str | None, int]]) -> int:
        wanted_variant = placeholder.attributes.get("data-osm-variant")
        for variant, amount in amounts:
            if wanted_variant is not None and variant == wanted_variant:
                return amount
        wanted_amount = placeholder.attributes.get("data-osm-amount", "")
        if wanted_amount.isdigit() and any(amount == int(wanted_amount) for _, amount in amounts):
            return int(wanted_amount)
        return amounts[0][1]

    def _render_slot(self, key, locale, product, slots, active) -> str:
        signature = (
            key, locale, product if self._slot_uses_product else None, active,
            tuple((slot.amount, tuple(slot.variants), str(slot.html)) for slot in slots),
        )
        html = self._slot_cache.get(signature)
        if html is None:
            html = self.slot_template.render(
                placement_key=key, locale=locale, product=product, fragments=slots, active_amount=active,
            ).strip()
            if len(self._slot_cache) >= SLOT_CACHE_SIZE:
                self._slot_cache.clear()
            self._slot_cache[signature] = html
        return html


def write_manifest(
    assets: Path, config: LoadedConfig, fragments: dict[OsmRequest, Fragment], index: ItemIndex,
    page_products: dict[str, list[str]], generated_at: datetime, *, previous_manifest: Path | None = None,
    replaced_products: frozenset[str] = frozenset(),
) -> None:
    """Write ``manifest.json``: fragments with expiry, products with their amounts, pages.

    The products section is streamed item by item, so a large catalog is not built in memory.
    An incremental build passes the path of the published manifest: its fragments, pages and
    products that this build does not replace are copied line by line without being parsed.
    """
    settings = config.settings
    amount_placements = [placement.key for placement in settings.placements if placement.takes_amount]
    manifest_path = assets / MANIFEST_NAME
    ensure_folder(assets)
    manifest_path.unlink(missing_ok=True)
    fragment_entries = {
        fragment.key: {
            "file": fragment.relative_path if fragment.html else None,
            "status": fragment.status,
            "expires_at": fragment.expires_at.isoformat() if fragment.expires_at else None,
            "correlation_id": fragment.correlation_id,
        }
        for fragment in fragments.values()
    }
    with manifest_path.open("w", encoding="utf-8") as stream:
        # One entry per line, encoded by json's C encoder (indent= would use the slow Python one).
        stream.write("{")
        for key, value in (
            ("generated_at", generated_at.isoformat()),
            ("environment", settings.klarna.environment),
            ("region", settings.klarna.region),
            ("api_version", settings.klarna.api_version),
        ):
            stream.write(f"\n {json.dumps(key)}: {json.dumps(value)},")
        for name, entries in (("fragments", dict(sorted(fragment_entries.items()))), ("pages", page_products)):
            lines = []
            if previous_manifest is not None:
                lines.extend(
                    f"\n  {json.dumps(key)}: {value}"
                    for key, value in iter_section_lines(previous_manifest, name)
                    if key not in entries
                )
            lines.extend(f"\n  {json.dumps(key)}: {json.dumps(value)}" for key, value in entries.items())
            stream.write(f"\n {json.dumps(name)}: {{{','.join(lines)}\n }},")
        stream.write(PRODUCTS_MARKER)
        first = True
        if previous_manifest is not None:
            for product, entries in iter_product_lines(previous_manifest):
                if product in replaced_products:
                    continue
                stream.write(("\n  " if first else ",\n  ") + json.dumps(product) + ": " + entries)
                first = False
        for product, items in index.iter_by_product():
            entries = []
            for item in items:
                keys = [
                    fragments[OsmRequest(key, item.locale, item.purchase_amount)].key
                    for key in amount_placements
                    if OsmRequest(key, item.locale, item.purchase_amount) in fragments
                ]
                entries.append({
                    "variant": item.variant, "locale": item.locale, "purchase_amount": item.purchase_amount,
                    "source": item.source, "fragments": keys,
                    "price_changes_at": item.price_changes_at.isoformat() if item.price_changes_at else None,
                })
            stream.write(("\n  " if first else ",\n  ") + json.dumps(product) + ": " + json.dumps(entries))
            first = False
        stream.write("\n }\n}\n")
