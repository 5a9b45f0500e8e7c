"""One price change in the 100,000-product workload, with and without shared folders.

Reuses the workload that `python bench/run.py` generated in bench/work/products-100000 (run that
first). Copies its catalog, pages and cache into bench/work/share-test, starts
`osm-build emulator` (50 ms latency) on the port that the cached answers name, and for
`output.share_unchanged_folders` true and false: one full build, then three builds with
`only_products` after changing one product's price in the CSV. Prints each time and the median.

    python bench/incremental_share.py
"""

from __future__ import annotations

import csv
import logging
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from osm_build.build import BuildOptions, run_build
from osm_build.config import load_config
from osm_build.publish import Publisher

WORK = Path(__file__).resolve().parent / "work"
SOURCE = WORK / "products-100000"
TARGET = WORK / "share-test"


def prepare() -> dict:
    if not (SOURCE / "site_config.yaml").is_file():
        raise SystemExit(f"{SOURCE} has no workload; run `python bench/run.py` first")
    TARGET.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE / "catalog.csv", TARGET / "catalog.csv")
    for folder in ("pages", "osm-cache"):
        if not (TARGET / folder).exists():
            shutil.copytree(SOURCE / folder, TARGET / folder)
    return yaml.safe_load((SOURCE / "site_config.yaml").read_text(encoding="utf-8"))


def change_price(row_number: int, price: str) -> str:
    with (TARGET / "catalog.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    rows[row_number][4] = price
    with (TARGET / "catalog.csv").open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows(rows)
    return rows[row_number][0]


def main() -> None:
    config = prepare()
    port = int(config["klarna"]["base_url"].rsplit(":", 1)[1])
    emulator = subprocess.Popen(
        [sys.executable, "-m", "osm_build", "emulator", "--port", str(port), "--latency-ms", "50"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    logging.disable(logging.WARNING)
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{port}/__emulator/stats")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        started_price = time.time() % 100  # a price not used by an earlier run of this script
        for share in (True, False):
            config["output"]["share_unchanged_folders"] = share
            (TARGET / "site_config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
            loaded = load_config(TARGET / "site_config.yaml")
            run_build(loaded)
            Publisher(loaded.resolve(loaded.settings.output.directory)).wait_for_cleanup()
            times = []
            for number in range(3):
                product = change_price(1000 + 20000 * number + 7, f"{1200 + started_price + number + 10 * share:.2f}")
                began = time.perf_counter()
                report = run_build(loaded, BuildOptions(only_products=frozenset({product})))
                times.append(time.perf_counter() - began)
                print(f"share_unchanged_folders={share} {product}: {times[-1]:.2f} s {report.stage_seconds}")
                Publisher(loaded.resolve(loaded.settings.output.directory)).wait_for_cleanup()
            print(f"share_unchanged_folders={share}: median {statistics.median(times):.2f} s of {len(times)}")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    main()
