"""Compare the read throughput of read_catalog with a bare csv.reader pass over the same file.

Run: python bench/catalog_read.py [--rows N] [--runs R]. The script writes a generic CSV (id,
title, price) of N rows (default 200,000) to a temporary folder. Its prices are skewed the way
shop catalogs are: a few price points such as 19.99 are shared by many products, and a long tail
of prices occurs once. The file is read for two markets, en-US and es-US (both USD). Each run
times a bare ``for row in csv.reader(f): pass`` over the file, then a full ``read_catalog`` pass,
and the script prints the median of R runs (default 3) in rows per second and their ratio. Times
are CPU time of this process (``time.process_time``), which other load on a shared machine
disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from osm_build.catalog import read_catalog
from osm_build.catalog.model import CatalogReport
from osm_build.catalog.settings import CatalogSettings, MarketSettings

ENCODING = "utf-8"


def price_points(generator: random.Random) -> tuple[list[str], list[float]]:
    """Return 2,000 price texts and Zipf-like weights, so the first texts are far more common."""
    points = [f"{whole}.{cents:02d}" for whole in range(1, 501) for cents in (99, 95, 0, 49)]
    generator.shuffle(points)
    weights = [1.0 / rank for rank in range(1, len(points) + 1)]
    return points, weights


def write_catalog(path: Path, rows: int) -> None:
    """Write a generic CSV of id, title and price, with 10 % of prices drawn from 500,000 values."""
    generator = random.Random(7)
    points, weights = price_points(generator)
    shared = generator.choices(points, weights=weights, k=rows)
    with path.open("w", encoding=ENCODING, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "price"])
        for number in range(rows):
            if generator.random() < 0.1:
                price = f"{generator.randint(1, 5000)}.{generator.randint(0, 99):02d}"
            else:
                price = shared[number]
            writer.writerow([f"p{number}", f"Product {number}", price])


def time_bare_reader(path: Path) -> tuple[int, float]:
    """Return the rows csv.reader reads from ``path`` (header included) and the seconds it takes."""
    started = time.process_time()
    rows = 0
    with path.open(encoding=ENCODING, newline="") as handle:
        for _row in csv.reader(handle):
            rows += 1
    return rows, time.process_time() - started


def time_read_catalog(path: Path) -> tuple[int, int, float]:
    """Return the rows read_catalog reads, the items it yields and the seconds it takes."""
    settings = CatalogSettings(path=path.name, format="csv", currency="USD")
    markets = [MarketSettings(locale="en-US"), MarketSettings(locale="es-US")]
    report = CatalogReport()
    started = time.process_time()
    items = 0
    for _item in read_catalog(settings, markets, base_dir=path.parent, report=report, now=datetime.now(UTC)):
        items += 1
    return report.rows_read, items, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="number of data rows to generate")
    parser.add_argument("--runs", type=int, default=3, help="runs to take the median of")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalog.csv"
        write_catalog(path, args.rows)
        print(f"file: {path.stat().st_size / 1e6:.1f} MB, {args.rows:,} rows, markets en-US and es-US (USD)")

        bare_rates = []
        catalog_rates = []
        ratios = []
        for _run in range(args.runs):
            bare_rows, bare_seconds = time_bare_reader(path)
            rows_read, items, seconds = time_read_catalog(path)
            bare_rates.append(bare_rows / bare_seconds)
            catalog_rates.append(rows_read / seconds)
            ratios.append(bare_seconds / seconds)

    print(f"csv.reader:   {statistics.median(bare_rates):>12,.0f} rows/s")
    print(f"read_catalog: {statistics.median(catalog_rates):>12,.0f} rows/s ({items:,} items)")
    print(f"ratio:        {statistics.median(ratios):>12.2f}x of csv.reader (median of {args.runs} runs)")


if __name__ == "__main__":
    main()
