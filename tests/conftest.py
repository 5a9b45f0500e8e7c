"""Fixtures shared by the test suite: an emulator over HTTP and a copy of the example site."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import yaml

from osm_build.emulator.server import start_emulator
from osm_build.emulator.settings import EmulatorSettings

REPOSITORY = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last, so that their event loop cannot affect other tests."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))


@pytest.fixture(autouse=True)
def restore_osm_build_logging():
    """Undo the handlers that a CLI test's setup_logging puts on the osm_build logger."""
    logger = logging.getLogger("osm_build")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def emulator():
    """An OSM emulator on 127.0.0.1 with a free port, stopped after the test."""
    running = start_emulator(EmulatorSettings(port=0, seed=7))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def example_site(tmp_path: Path, emulator):
    """A copy of the example site whose config points at the test's emulator.

    Returns a function that writes site_config.yaml with optional changes and returns its path.
    """
    shutil.copytree(REPOSITORY / "example_site", tmp_path / "example_site")
    base = yaml.safe_load((REPOSITORY / "site_config.yaml").read_text(encoding="utf-8"))

    def write_config(**sections) -> Path:
        config = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base.items()}
        config["klarna"] = {**config["klarna"], "base_url": emulator.base_url,
                            "client_id": "6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11"}
        for name, value in sections.items():
            if isinstance(value, dict) and isinstance(config.get(name), dict):
                config[name] = {**config[name], **value}
            else:
                config[name] = value
        path = tmp_path / "site_config.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    return write_config
