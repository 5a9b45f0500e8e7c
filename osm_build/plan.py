"""Work out the distinct OSM requests a catalog needs: one per (placement, locale, amount).

The plan also keeps every priced item in an ``ItemIndex`` so that later stages can look up a
product's amounts per market without holding the whole catalog in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from osm_build.catalog.model import PricedItem
from osm_build.config import PlacementSettings
from osm_build.fetch import OsmRequest
from osm_build.itemindex import ItemIndex


@dataclass
class Plan:
    """The distinct requests of a build and the index of priced items they came from."""

    requests: set[OsmRequest] = field(default_factory=set)
    products: set[str] = field(default_factory=set)

    def sorted_requests(self) -> list[OsmRequest]:
        return sorted(self.requests, key=_request_sort_key)


def _request_sort_key(request: OsmRequest) -> tuple:
    return (request.placement_key, request.locale, request.purchase_amount or 0)


def build_plan(
    items: Iterable[PricedItem],
    placements: Iterable[PlacementSettings],
    locales: Iterable[str],
    index: ItemIndex | None = None,
) -> Plan:
    """Collect the distinct requests for ``items`` and store each item in ``index``.

    A placement that takes an amount gets one request per distinct (locale, amount); a
    site-wide placement gets one request per locale.
    """
    placements = tuple(placements)
    plan = Plan()
    for placement in placements:
        if not placement.takes_amount:
            plan.requests.update(OsmRequest(placement.key, locale, None) for locale in locales)
    amount_placements = [placement.key for placement in placements if placement.takes_amount]

    for item in _stored(items, index):
        plan.products.add(item.product)
        for key in amount_placements:
            plan.requests.add(OsmRequest(key, item.locale, item.purchase_amount))
    return plan


def _stored(items: Iterable[PricedItem], index: ItemIndex | None) -> Iterator[PricedItem]:
    if index is None:
        yield from items
        return
    batch: list[PricedItem] = []
    for item in items:
        batch.append(item)
        if len(batch) >= 5000:
            index.add(batch)
            batch.clear()
        yield item
    index.add(batch)
