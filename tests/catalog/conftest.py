"""Fixtures for the catalog stage tests: a reader that returns items and the report."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from osm_build.catalog import read_catalog
from osm_build.catalog.model import CatalogReport, PricedItem
from osm_build.catalog.settings import CatalogSettings, MarketSettings

DATA = Path(__file__).resolve().parent / "data"
BUILD_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def shared_catalogs() -> Path | None:
    """Return the folder of real catalog exports, from OSM_SHARED_CATALOGS or beside the repo."""
    configured = os.environ.get("OSM_SHARED_CATALOGS")
    if configured and Path(configured).is_dir():
        return Path(configured)
    beside = Path(__file__).resolve().parents[2].parent / "shared" / "catalogs"
    return beside if beside.is_dir() else None


def read(
    path: Path,
    locales: tuple[str, ...] = ("en-US",),
    *,
    markets: list[MarketSettings] | None = None,
    now: datetime = BUILD_TIME,
    **catalog: object,
) -> tuple[list[PricedItem], CatalogReport]:
    """Read ``path`` with the given catalog settings and return every item and the report."""
    report = CatalogReport()
    settings = CatalogSettings(path=path.name, **catalog)
    chosen = markets if markets is not None else [MarketSettings(locale=locale) for locale in locales]
    items = list(read_catalog(settings, chosen, base_dir=path.parent, report=report, now=now))
    return items, report


@pytest.fixture
def shared() -> Path:
    folder = shared_catalogs()
    if folder is None:
        pytest.skip("the real catalog exports are missing: set OSM_SHARED_CATALOGS or add ../shared/catalogs")
    return folder
