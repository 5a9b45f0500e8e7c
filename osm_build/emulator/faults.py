"""Fault injection: which requests get a failure instead of the regular response."""

from __future__ import annotations

import random

from osm_build.emulator.settings import EmulatorSettings

FAIL = "fail"
THROTTLE = "throttle"
TIMEOUT = "timeout"
MALFORMED = "malformed"
EMPTY = "empty"

# Bodies of 200 responses picked by malformed_rate: broken JSON, HTML, and valid JSON of the wrong
# shape, so that clients are tested against each.
MALFORMED_BODIES: tuple[bytes, ...] = (
    b'{"content": {"nodes": [{"type": "TEXT", "name": "TEXT_MAIN", "value": "Make 4 pay',
    b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    b'{"content": {"nodes": "TEXT_MAIN"}, "impression_url": 42}',
    b'{"content": null}',
    b"[]",
)


class FaultPicker:
    """Draws at most one fault per API request from a seeded ``random.Random``.

    One uniform draw is compared with the cumulative rates, so each rate is the share of requests
    that get that fault. Follow-up choices (500 or 503, which malformed body) use the same
    generator, so a given seed and request order always give the same responses.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self._seed = settings.seed
        self._random = random.Random(settings.seed)
        self._thresholds: list[tuple[float, str]] = []
        total = 0.0
        for rate, fault in (
            (settings.fail_rate, FAIL),
            (settings.throttle_rate, THROTTLE),
            (settings.timeout_rate, TIMEOUT),
            (settings.malformed_rate, MALFORMED),
            (settings.empty_rate, EMPTY),
        ):
            if rate > 0:
                total += rate
                self._thresholds.append((total, fault))

    def pick(self) -> str | None:
        """Return the fault for the next request, or None for a regular response."""
        if not self._thresholds:
            return None
        draw = self._random.random()
        for threshold, fault in self._thresholds:
            if draw < threshold:
                return fault
        return None

    def choose(self, options: tuple) -> object:
        """Return one of ``options``, drawn from the same generator as the faults."""
        return self._random.choice(options)

    def reseed(self) -> None:
        """Restart the draws from the configured seed (a fresh random state when it is None)."""
        self._random.seed(self._seed)
