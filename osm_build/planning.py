"""``osm-build plan``: the distinct requests and priced items, with no network traffic."""

from __future__ import annotations

from osm_build.catalog import read_catalog
from osm_build.catalog.model import CatalogReport, PricedItem
from osm_build.config import LoadedConfig
from osm_build.plan import build_plan


def plan_document(config: LoadedConfig) -> dict:
    """Read the catalog and return the plan as a JSON-ready dict."""
    settings = config.settings
    report = CatalogReport()
    items: list[dict] = []

    def recorded(stream):
        for item in stream:
            items.append(_item_entry(item))
            yield item

    catalog = read_catalog(settings.catalog, settings.markets, base_dir=config.base_dir, report=report)
    plan = build_plan(recorded(catalog), settings.placements, [market.locale for market in settings.markets])
    return {
        "products": len(plan.products),
        "requests": [
            {"placement_key": request.placement_key, "locale": request.locale,
             "purchase_amount": request.purchase_amount}
            for request in plan.sorted_requests()
        ],
        "items": items,
        "errors": [str(error) for error in report.errors],
        "rows_read": report.rows_read,
        "rows_skipped": report.rows_skipped,
    }


def _item_entry(item: PricedItem) -> dict:
    return {
        "product": item.product, "variant": item.variant, "locale": item.locale,
        "purchase_amount": item.purchase_amount, "source": item.source,
    }
