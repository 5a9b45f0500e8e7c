"""Measure peak memory and throughput of read_catalog on a generated 1,000,000-row CSV.

Run: python bench/catalog_memory.py [--rows N]. The file is written to a temporary folder and
read with the generic CSV reader for two markets (de-DE and fr-FR, both EUR). The script also
times a bare ``csv.reader`` pass over the same file for comparison.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from osm_build.catalog import read_catalog
from osm_build.catalog.model import CatalogReport
from osm_build.catalog.settings import CatalogSettings, MarketSettings


def write_catalog(path: Path, rows: int) -> None:
    """Write a generic CSV with id, title and price columns and varied prices."""
    generator = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "price"])
        for number in range(rows):
            price = f"{generator.randint(1, 5000)}.{generator.randint(0, 99):02d}"
            writer.writerow([f"p{number}", f"Product {number}", price])


def peak_rss_mb() -> float:
    """Return the process's peak resident set size in MB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="number of data rows to generate")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "catalog.csv"
        write_catalog(path, args.rows)
        print(f"file: {path.stat().st_size / 1e6:.1f} MB, {args.rows} rows; peak RSS before reading: {peak_rss_mb():.1f} MB")

        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as handle:
            bare_rows = sum(1 for _ in csv.reader(handle))
        bare_seconds = time.perf_counter() - started

        settings = CatalogSettings(path=path.name, format="csv", currency="EUR")
        markets = [MarketSettings(locale="de-DE"), MarketSettings(locale="fr-FR")]
        report = CatalogReport()
        started = time.perf_counter()
        items = 0
        for _ in read_catalog(
            settings, markets, base_dir=Path(folder), report=report, now=datetime.now(UTC)
        ):
            items += 1
        seconds = time.perf_counter() - started

    print(f"bare csv.reader: {bare_rows / bare_seconds:,.0f} rows/s ({bare_seconds:.2f} s)")
    print(f"read_catalog:    {report.rows_read / seconds:,.0f} rows/s ({seconds:.2f} s), {items} items")
    print(f"throughput ratio: {bare_seconds / seconds:.2f}x of bare csv.reader")
    print(f"peak RSS: {peak_rss_mb():.1f} MB")


if __name__ == "__main__":
    main()
