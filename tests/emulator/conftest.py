"""Fixtures that start real emulators on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from osm_build.emulator.server import RunningEmulator, start_emulator
from osm_build.emulator.settings import EmulatorSettings


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    """Start an emulator with the given settings; every one started is stopped after the test."""
    running: list[RunningEmulator] = []

    def start_with(**settings: Any) -> RunningEmulator:
        emulator = start_emulator(EmulatorSettings(**settings))
        running.append(emulator)
        return emulator

    yield start_with
    for emulator in running:
        emulator.stop()


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[RunningEmulator]:
    """An emulator with the default settings, shared by the session because a stop takes ~0.2 s."""
    emulator = start_emulator(EmulatorSettings())
    yield emulator
    emulator.stop()


@pytest.fixture
def emulator(shared_emulator: RunningEmulator) -> RunningEmulator:
    """The emulator with the default settings, with its counters zeroed."""
    shared_emulator.reset()
    return shared_emulator
