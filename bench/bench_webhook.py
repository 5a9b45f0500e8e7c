"""Time from a signed Shopify delivery to the changed product's page on disk, through ``osm-build serve``.

The benchmark adds a ``webhooks`` section with one Shopify source to the workload's config,
starts ``osm-build serve`` on 127.0.0.1 with a free port, and sends one ``products/update``
delivery at a time. Each delivery gives a single-row product a new price, so its rebuild sends
one badge request per market that the cache does not hold yet. The time runs from the 202
response to the first poll (every 10 ms) that finds the new ``data-osm-amount`` in the product's
published page. The workload's site must be published before, by a full build.

The server matches a Shopify body to a published product by ``id`` or ``handle``. The generated
catalog is a generic CSV whose product ids are ``P0000000``-style strings, so the body carries
the catalog id as ``handle`` and a made-up numeric Shopify ``id``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import bench_workload
import httpx
import yaml

SOURCE_NAME = "shop"
SECRET_ENV = "OSM_BENCH_SHOPIFY_SECRET"
# osm-build's default quiet time before a webhook build starts, in seconds.
DEBOUNCE_SECONDS = 0.5
POLL_SECONDS = 0.01
DELIVERY_TIMEOUT_SECONDS = 300
START_TIMEOUT_SECONDS = 60
PUBLISHED_LINE = re.compile(r"Published (\S+) for (\d+) deliveries in ([0-9.]+) s")
STAGE_LINE = re.compile(r"Stage (\w+) took ([0-9.]+) s")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scan_catalog(catalog: Path, count: int) -> tuple[list[str], set[str]]:
    """Return ``count`` product ids spread over the catalog that have one row and no variant, and every price."""
    rows: Counter[str] = Counter()
    without_variant = set()
    prices = set()
    with catalog.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["id"]] += 1
            prices.add(row["price"])
            if not row["variant_id"]:
                without_variant.add(row["id"])
    candidates = sorted(product for product in without_variant if rows[product] == 1)
    if len(candidates) < count:
        raise RuntimeError(f"{catalog} has only {len(candidates)} single-row products; {count} are needed")
    # Start a little past the first product so that the picks do not cluster at the start.
    step = len(candidates) // count
    return [candidates[step // 3 + step * position] for position in range(count)], prices


def new_prices(count: int, taken: set[str]) -> list[str]:
    """Return ``count`` EUR prices that no catalog row has, inside the emulator's 1.00-1500.00 range.

    The emulator returns no message for amounts outside its financing range, so such a page would
    never show the new ``data-osm-amount``.
    """
    prices = []
    cents = 123_417 + time.time_ns() // 1000 % 97
    while len(prices) < count:
        text = f"{cents // 100}.{cents % 100:02d}"
        if text not in taken:
            prices.append(text)
        cents += 313
    return prices


def product_page(workload: bench_workload.Workload, product: str) -> Path:
    """Return the published page of ``product`` (one page per product up to the page limit)."""
    if workload.products > bench_workload.PRODUCT_PAGE_LIMIT:
        raise ValueError(f"{workload.products} products use category pages; use at most "
                         f"{bench_workload.PRODUCT_PAGE_LIMIT} products for the webhook figure")
    number = int(product[1:])
    return workload.output / f"p/{number // 1000:04d}/{product}.html"


def add_webhooks_section(workload: bench_workload.Workload, journal: Path) -> None:
    """Add one Shopify source, with the journal at ``journal``, to the workload's config."""
    config = yaml.safe_load(workload.config.read_text(encoding="utf-8"))
    config["webhooks"] = {
        "sources": [{"name": SOURCE_NAME, "type": "shopify", "secret_env": SECRET_ENV}],
        "debounce_seconds": DEBOUNCE_SECONDS,
        "journal": str(journal),
    }
    workload.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def shopify_delivery(product: str, shopify_id: int, price: str, secret: str, delivery_id: str) -> tuple[bytes, dict]:
    """Return the body and signed headers of a ``products/update`` delivery for one catalog product."""
    body = json.dumps({
        "id": shopify_id, "handle": product, "title": f"Benchmark {product}",
        "variants": [{"id": shopify_id * 10 + 1, "sku": product, "title": "Default Title", "price": price}],
    }).encode()
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Webhook-Id": delivery_id,
    }
    return body, headers


class ServeProcess:
    """``osm-build serve`` in its own process, with its log in a file."""

    def __init__(self, config: Path, secret: str, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "osm_build", "serve", "-c", str(config),
             "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=config.parent, env={**os.environ, SECRET_ENV: secret},
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def wait_ready(self) -> None:
        """Wait until ``GET /healthz`` returns 200.

        Raises:
            RuntimeError: when the server exits or does not respond within ``START_TIMEOUT_SECONDS``.
        """
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"osm-build serve exited with status {self.process.returncode}; "
                                   f"see {self.log_path}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"osm-build serve did not respond on /healthz within {START_TIMEOUT_SECONDS} s; "
                           f"see {self.log_path}")

    def health(self) -> dict:
        return self.client.get("/healthz").json()

    def log(self) -> str:
        """Return the server's log so far (the process writes to the file directly)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


def wait_for_amount(page: Path, amount: int, started: float) -> float:
    """Poll ``page`` every 10 ms until it shows ``amount``, and return the seconds since ``started``.

    Raises:
        RuntimeError: when the page does not show the amount within ``DELIVERY_TIMEOUT_SECONDS``.
    """
    marker = f'data-osm-amount="{amount}"'
    while True:
        try:
            if marker in page.read_text(encoding="utf-8"):
                return time.perf_counter() - started
        except OSError:
            pass  # the output link is replaced atomically, but a poll can fall between two reads
        if time.perf_counter() - started > DELIVERY_TIMEOUT_SECONDS:
            raise RuntimeError(f"{page} did not show {marker} within {DELIVERY_TIMEOUT_SECONDS} s")
        time.sleep(POLL_SECONDS)


def wait_idle(server: ServeProcess, builds: int) -> dict:
    """Wait until the server has finished ``builds`` builds and its queue is empty, and return /healthz."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        health = server.health()
        if health["builds"] >= builds and health["queue"] == 0 and health["last_build"]:
            return health
        time.sleep(0.05)
    raise RuntimeError(f"osm-build serve did not finish build {builds} within {DELIVERY_TIMEOUT_SECONDS} s: "
                       f"{server.health()}")


def server_stages(log: str) -> list[dict]:
    """Return the stage times (``Stage X took N s`` lines) of each webhook build in the server log."""
    builds: list[dict] = []
    current: dict = {}
    for line in log.splitlines():
        stage = STAGE_LINE.search(line)
        if stage:
            current[stage.group(1)] = float(stage.group(2))
            continue
        published = PUBLISHED_LINE.search(line)
        if published:
            builds.append({"stages": current, "logged_seconds": float(published.group(3))})
            current = {}
    return builds


def measure(workload: bench_workload.Workload, deliveries: int = 5) -> dict:
    """Send ``deliveries`` price changes through ``osm-build serve`` and return the figures.

    The config's ``webhooks`` section stays in the file afterwards; ``bench_workload.generate``
    rewrites the config without it on the next run.
    """
    products, taken = scan_catalog(workload.catalog, deliveries)
    prices = new_prices(deliveries, taken)
    journal = workload.folder / "webhooks.sqlite"
    for leftover in journal.parent.glob(journal.name + "*"):
        leftover.unlink()
    add_webhooks_section(workload, journal)
    secret = secrets.token_hex(32)
    server = ServeProcess(workload.config, secret, workload.folder / "serve.log")
    runs = []
    try:
        server.wait_ready()
        for position, (product, price) in enumerate(zip(products, prices)):
            # A price no catalog row has, so each rebuild requests a new message per market.
            amount = int(price.replace(".", ""))
            body, headers = shopify_delivery(product, 7_000_000 + position, price, secret,
                                             f"bench-{time.time_ns()}-{position}")
            page = product_page(workload, product)
            response = server.client.post(f"/hooks/{SOURCE_NAME}", content=body, headers=headers)
            started = time.perf_counter()
            if response.status_code != 202:
                raise RuntimeError(f"delivery for {product} got HTTP {response.status_code} instead of 202: {response.text}")
            seconds = wait_for_amount(page, amount, started)
            health = wait_idle(server, position + 1)
            last = health["last_build"]
            if last.get("error"):
                raise RuntimeError(f"the webhook build for {product} failed: {last['error']}")
            runs.append({"product": product, "price": price, "seconds": seconds,
                         "build_duration_seconds": last["duration_seconds"]})
            print(f"[{workload.products}] webhook {position + 1}/{deliveries}: {product} at {price} published "
                  f"{seconds:.2f} s after the 202 (server build {last['duration_seconds']:.2f} s)", flush=True)
    finally:
        server.stop()
    logged = server_stages(server.log())
    return {
        "webhook_products": workload.products,
        "webhook_deliveries": len(runs),
        "webhook_debounce_seconds": DEBOUNCE_SECONDS,
        "webhook_seconds": statistics.median(run["seconds"] for run in runs),
        "webhook_build_seconds": statistics.median(run["build_duration_seconds"] for run in runs),
        "webhook_runs": runs,
        "webhook_server_builds": logged,
    }
