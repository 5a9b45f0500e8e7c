"""Fixtures for the beacon tests: one emulator, two built sites, their servers and one Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from beacon_site import SiteServer, build_site, chromium_missing_reason, launch_chromium

from osm_build.emulator.server import RunningEmulator, start_emulator
from osm_build.emulator.settings import EmulatorSettings


@pytest.fixture(scope="session")
def osm_emulator() -> Iterator[RunningEmulator]:
    """The emulator whose impression counter is the oracle of every browser test."""
    with start_emulator(EmulatorSettings(port=0)) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def viewable_site(tmp_path_factory: pytest.TempPathFactory, osm_emulator: RunningEmulator) -> Iterator[SiteServer]:
    """The test site built with ``beacon.mode: viewable`` and restored pages not counted."""
    server = SiteServer(build_site(tmp_path_factory.mktemp("viewable"), osm_emulator.base_url))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def render_site(tmp_path_factory: pytest.TempPathFactory, osm_emulator: RunningEmulator) -> Iterator[SiteServer]:
    """The test site built with ``beacon.mode: render`` and restored pages counted."""
    root = tmp_path_factory.mktemp("render")
    server = SiteServer(build_site(root, osm_emulator.base_url, mode="render", count_bfcache=True))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless. Tests skip without it, except under CI, where they fail.

    Module scope: Playwright's sync API runs an event loop in the main thread while it is
    open, and ``asyncio.run`` in later tests would fail inside it.
    """
    reason = chromium_missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests need Chromium under CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def stats(osm_emulator: RunningEmulator):
    """The emulator's counters, zeroed for this test; call it to read them."""
    osm_emulator.reset()
    return osm_emulator.stats


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no shared cache or history) with a 1280x720 viewport."""
    browser_context = browser.new_context(viewport={"width": 1280, "height": 720})
    yield browser_context
    browser_context.close()
