"""The benchmark's smallest case: request counts of cold and warm builds, no timing checks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import run as bench_run  # noqa: E402


@pytest.fixture
def emulator():
    """``osm-build emulator`` in its own process with 5 ms latency, stopped after the test."""
    running = bench_run.Emulator(latency_ms=5)
    try:
        yield running
    finally:
        running.stop()


def test_bench_request_counts(emulator, tmp_path):
    result = bench_run.run_size(2_000, 1, emulator, 5, tmp_path, micro=False, incremental=False)

    assert result["distinct_requests"] > 0
    assert result["requests_sent_cold"] == result["distinct_requests"]
    assert result["emulator_requests_cold"] == result["distinct_requests"]
    assert result["requests_sent_warm"] == 0
    assert result["emulator_requests_warm"] == 0
    assert result["failed_requests"] == 0
    assert result["pages_written"] == 2_000
