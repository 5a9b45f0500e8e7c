"""``osm-build plan``: the distinct requests and priced items, with no network traffic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TextIO

from osm_build.catalog import read_catalog
from osm_build.catalog.model import CatalogReport, PricedItem
from osm_build.config import LoadedConfig
from osm_build.plan import Plan, build_plan


def plan_catalog(config: LoadedConfig, on_item=None) -> tuple[Plan, CatalogReport]:
    """Read the catalog and plan its requests, calling ``on_item`` with each priced item."""
    settings = config.settings
    report = CatalogReport()

    def observed(items: Iterator[PricedItem]) -> Iterator[PricedItem]:
        for item in items:
            on_item(item)
            yield item

    items = read_catalog(settings.catalog, settings.markets, base_dir=config.base_dir, report=report)
    if on_item is not None:
        items = observed(items)
    plan = build_plan(items, settings.placements, [market.locale for market in settings.markets])
    return plan, report


def write_plan_json(config: LoadedConfig, stream: TextIO) -> None:
    """Write the plan as one JSON object, streaming the items so that memory stays flat.

    The object has the keys ``items`` (every priced item), ``requests`` (the distinct requests),
    ``products``, ``errors``, ``rows_read`` and ``rows_skipped``.
    """
    first = True

    def write_item(item: PricedItem) -> None:
        nonlocal first
        stream.write(("\n    " if first else ",\n    ") + json.dumps(item_entry(item)))
        first = False

    stream.write('{\n  "items": [')
    plan, report = plan_catalog(config, write_item)
    stream.write("\n  ],\n")
    summary = plan_summary(plan, report)
    body = json.dumps(summary, indent=2)[1:]
    stream.write(body + "\n")


def plan_summary(plan: Plan, report: CatalogReport) -> dict:
    """Return the plan's requests and counts as a JSON-ready dict."""
    return {
        "products": len(plan.products),
        "requests": [
            {"placement_key": request.placement_key, "locale": request.locale,
             "purchase_amount": request.purchase_amount}
            for request in plan.sorted_requests()
        ],
        "errors": [str(error) for error in report.errors],
        "rows_read": report.rows_read,
        "rows_skipped": report.rows_skipped,
    }


def item_entry(item: PricedItem) -> dict:
    """Return a priced item as it appears under ``items``."""
    return {
        "product": item.product, "variant": item.variant, "locale": item.locale,
        "purchase_amount": item.purchase_amount, "source": item.source,
    }
