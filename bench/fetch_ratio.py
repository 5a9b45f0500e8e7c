"""Fetch-stage time against its ideal, alone: 1,000 distinct requests, 50 ms, concurrency 16.

Starts `osm-build emulator` as its own process on 127.0.0.1, fetches three sets of 1,000 new
requests without a cache, and prints each run's time divided by the ideal
(requests x latency / concurrency) and their median.

    python bench/fetch_ratio.py
"""

from __future__ import annotations

import logging
import socket
import statistics
import subprocess
import sys
import time

import httpx

from osm_build.config import KlarnaSettings
from osm_build.emulator.settings import DEFAULT_CLIENT_IDS
from osm_build.fetch import FetchReport, OsmRequest, fetch_answers_sync

LATENCY_SECONDS = 0.05
CONCURRENCY = 16
REQUESTS = 1000
RUNS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "osm_build", "emulator", "--port", str(port), "--latency-ms", str(LATENCY_SECONDS * 1000)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base_url}/__emulator/stats")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit("the emulator did not start within 20 s") from None
                time.sleep(0.1)

        settings = KlarnaSettings(
            client_id=DEFAULT_CLIENT_IDS[0], environment="emulator", base_url=base_url,
            concurrency=CONCURRENCY, requests_per_second=100_000,
        )
        logging.disable(logging.INFO)
        ideal = REQUESTS * LATENCY_SECONDS / CONCURRENCY
        ratios = []
        for run in range(RUNS):
            requests = [OsmRequest("credit-promotion-badge", "de-DE", 10_000 + run * 5_000 + i) for i in range(REQUESTS)]
            started = time.perf_counter()
            fetch_answers_sync(requests, settings, base_url=base_url, cache_dir=None, api_key=None, report=FetchReport())
            ratios.append((time.perf_counter() - started) / ideal)
        print(f"fetch / ideal ({REQUESTS} requests, {LATENCY_SECONDS * 1000:.0f} ms, concurrency {CONCURRENCY}):",
              ", ".join(f"{ratio:.2f}" for ratio in ratios), f"median {statistics.median(ratios):.2f}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    main()
