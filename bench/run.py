"""Benchmark osm-build: API requests, stage speed against bare-library limits, memory, rebuilds.

Run from the repository root:

    python bench/run.py --quick    # 10,000 products, one cold and one warm build
    python bench/run.py            # 10,000 (3 runs), 100,000 and 1,000,000 products (1 run each)

Each run writes ``bench/results/<name>.json`` (``quick`` or ``full`` unless ``--name`` is given).
Generated catalogs, pages, caches and outputs go under ``bench/work/`` and are reused by later
runs. The OSM emulator runs as its own process on 127.0.0.1 with a fixed added latency, and every
build runs in its own process (``bench_child.py``) so that its peak RSS is measured alone.
The size of the incremental rebuilds (100,000, or 10,000 with ``--quick``) also gets the webhook
figure of ``bench_webhook.py``, through ``osm-build serve``.
See ``bench_workload.py`` for what the generated catalog and pages look like.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import bench_micro  # noqa: E402
import bench_webhook  # noqa: E402
import bench_workload  # noqa: E402

CONCURRENCY = 16
QUICK_SIZES = ((10_000, 1),)
FULL_SIZES = ((10_000, 3), (100_000, 1), (1_000_000, 1))
INCREMENTAL_PRODUCTS = {"quick": 10_000, "full": 100_000}


class Emulator:
    """``osm-build emulator`` in a separate process, so it does not share the build's GIL."""

    def __init__(self, latency_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "osm_build", "emulator", "--host", "127.0.0.1", "--port", "0",
             "--latency-ms", str(latency_ms), "--seed", "1", "--log-level", "warning"],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline()
        if "listening on " not in line:
            self.process.kill()
            raise RuntimeError(f"the emulator did not start; its first output line was {line!r}")
        self.base_url = line.rsplit("listening on ", 1)[1].strip()

    def requests(self) -> int:
        return httpx.get(f"{self.base_url}/__emulator/stats", timeout=10).json()["requests"]

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/__emulator/reset", timeout=10).raise_for_status()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_child(workload: bench_workload.Workload, only: str | None = None) -> dict:
    """Run one build in a new Python process and return its figures."""
    result_path = workload.folder / "child-result.json"
    command = [sys.executable, str(BENCH / "bench_child.py"), str(workload.config), str(result_path)]
    if only:
        command += ["--only", only]
    subprocess.run(command, check=True)
    return json.loads(result_path.read_text(encoding="utf-8"))


def output_bytes(workload: bench_workload.Workload) -> dict:
    """Return the bytes and file counts of the published release: pages and everything."""
    pages_bytes = pages = total_bytes = files = 0
    for folder, _, names in os.walk(workload.output.resolve()):
        for name in names:
            size = os.stat(os.path.join(folder, name)).st_size
            total_bytes += size
            files += 1
            if name.endswith(".html") and "/osm" not in folder[len(str(workload.output.resolve())):]:
                pages_bytes += size
                pages += 1
    return {"page_files": pages, "page_bytes": pages_bytes, "output_files": files, "output_bytes": total_bytes}


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def median_stage(runs: list[dict], stage: str, key: str = "stages") -> float:
    return statistics.median(run[key].get(stage, 0.0) for run in runs)


def median_report_stages(runs: list[dict]) -> dict:
    """Return the median of each ``BuildReport.stage_seconds`` entry over ``runs``."""
    return {stage: median_stage(runs, stage, "report_stages") for stage in runs[0].get("report_stages", {})}


def run_size(products: int, repetitions: int, emulator: Emulator, latency_ms: float, work: Path, *,
             micro: bool = True, incremental: bool = False, webhook: bool = False) -> dict:
    """Run cold, warm and (optionally) incremental and webhook builds of one catalog size, and the stage ratios."""
    started = time.perf_counter()
    workload = bench_workload.generate(work / f"products-{products}", products, base_url=emulator.base_url)
    print(f"[{products}] workload ready in {time.perf_counter() - started:.1f} s: {workload.rows} rows, "
          f"{workload.pages} pages", flush=True)

    cold_runs, warm_runs = [], []
    for repetition in range(repetitions):
        shutil.rmtree(workload.cache, ignore_errors=True)
        emulator.reset()
        cold = run_child(workload)
        cold["emulator_requests"] = emulator.requests()
        cold_runs.append(cold)
        emulator.reset()
        warm = run_child(workload)
        warm["emulator_requests"] = emulator.requests()
        warm_runs.append(warm)
        print(f"[{products}] run {repetition + 1}/{repetitions}: cold {cold['seconds']:.1f} s "
              f"({cold['requests_sent']} sent of {cold['distinct_requests']} distinct), warm {warm['seconds']:.1f} s "
              f"({warm['requests_sent']} sent), peak RSS {max(cold['peak_rss_mb'], warm['peak_rss_mb']):.0f} MiB",
              flush=True)

    distinct = cold_runs[0]["distinct_requests"]
    ideal = distinct * (latency_ms / 1000) / CONCURRENCY
    fetch_cold = median_stage(cold_runs, "fetch")
    fill_seconds = median_stage(warm_runs, "fill_pages")
    pages = warm_runs[0]["pages_written"]
    result = {
        "products": products,
        "rows": workload.rows,
        "markets": len(bench_workload.MARKETS),
        "pages": workload.pages,
        "repetitions": repetitions,
        "product_fragments": False,
        "requests_sent_cold": max(run["requests_sent"] for run in cold_runs),
        "emulator_requests_cold": max(run["emulator_requests"] for run in cold_runs),
        "distinct_requests": distinct,
        "requests_sent_warm": max(run["requests_sent"] for run in warm_runs),
        "emulator_requests_warm": max(run["emulator_requests"] for run in warm_runs),
        "fetch_seconds_cold": fetch_cold,
        "fetch_ideal_seconds": ideal,
        "fetch_vs_ideal": fetch_cold / ideal if ideal else None,
        "cold_seconds": median_of(cold_runs, "seconds"),
        "warm_seconds": median_of(warm_runs, "seconds"),
        "warm_stages": {stage: median_stage(warm_runs, stage) for stage in warm_runs[0]["stages"]},
        "cold_stages": {stage: median_stage(cold_runs, stage) for stage in cold_runs[0]["stages"]},
        "warm_report_stages": median_report_stages(warm_runs),
        "cold_report_stages": median_report_stages(cold_runs),
        "fill_pages_per_second": pages / fill_seconds if fill_seconds else None,
        "pages_written": pages,
        "placeholders_filled": warm_runs[0]["placeholders_filled"],
        "failed_requests": max(run["failed_requests"] for run in cold_runs + warm_runs),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in cold_runs + warm_runs),
        **output_bytes(workload),
    }
    if micro:
        result.update(bench_micro.read_throughput(workload.config, max(1, repetitions)))
        answers = bench_micro.cached_answers(workload.config)
        result.update(bench_micro.render_throughput(answers, max(3, repetitions)))
    if incremental:
        result.update(run_incremental(workload, emulator, repetitions))
    if webhook:
        result.update(bench_webhook.measure(workload))
    print(f"[{products}] done in {time.perf_counter() - started:.0f} s", flush=True)
    return result


def run_incremental(workload: bench_workload.Workload, emulator: Emulator, repetitions: int) -> dict:
    """Change one product's price in the catalog and time ``only_products`` rebuilds of it."""
    product = bench_workload.product_id(workload.products // 2)
    original = workload.catalog.with_suffix(".orig.csv")
    shutil.copy2(workload.catalog, original)
    runs = []
    try:
        for repetition in range(max(3, repetitions)):
            # A new price per run: a new amount, so each rebuild sends exactly one badge request
            # per market that the warm cache does not hold yet. It stays inside the emulator's
            # EUR range (1.00-1500.00), so the response has a message to render.
            bench_workload.change_price(workload.catalog, product, f"{1321 + repetition}.17")
            emulator.reset()
            run = run_child(workload, only=product)
            run["emulator_requests"] = emulator.requests()
            runs.append(run)
    finally:
        original.replace(workload.catalog)
    print(f"[{workload.products}] incremental rebuild: median {median_of(runs, 'seconds'):.2f} s", flush=True)
    return {
        "incremental_product": product,
        "incremental_seconds": median_of(runs, "seconds"),
        "incremental_stages": {stage: median_stage(runs, stage) for stage in runs[0]["stages"]},
        "incremental_report_stages": median_report_stages(runs),
        "incremental_requests_sent": max(run["requests_sent"] for run in runs),
        "incremental_pages_written": runs[0]["pages_written"],
        "incremental_peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
    }


def machine() -> dict:
    """Return what the figures ran on."""
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with open("/proc/meminfo", encoding="utf-8") as handle:
        memory = handle.readline().split(":", 1)[1].strip()
    return {"nproc": os.cpu_count(), "cpu": model, "memory": memory, "python": platform.python_version()}


def source_state() -> dict:
    """Return the git commit of the tree and whether ``osm_build/`` has uncommitted changes.

    Every build process imports ``osm_build`` from the working tree, so a change made while the
    benchmark runs shows up in the sizes that start after it.
    """
    def git(*arguments: str) -> str:
        completed = subprocess.run(["git", *arguments], cwd=BENCH.parent, capture_output=True, text=True, check=False)
        return completed.stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"),
            "osm_build_changed": bool(git("status", "--porcelain", "--", "osm_build"))}


def targets(result: dict, sizes: dict) -> dict:
    """Return each target with its figure and whether it was met."""
    largest = sizes[max(sizes, key=int)]
    checks = {
        "cold_requests_equal_distinct": all(s["requests_sent_cold"] == s["distinct_requests"] for s in sizes.values()),
        "warm_requests_zero": all(s["requests_sent_warm"] == 0 for s in sizes.values()),
        "fetch_within_1_25_ideal": result["fetch_vs_ideal"] <= 1.25,
        "render_at_least_0_7_jinja": result["render_vs_jinja"] >= 0.7,
        "read_at_least_0_5_csv": result["read_vs_csv"] >= 0.5,
        "incremental_under_2_s": result.get("incremental_seconds") is not None and result["incremental_seconds"] < 2,
    }
    if int(max(sizes, key=int)) >= 1_000_000:
        checks["million_warm_under_5_min"] = largest["warm_seconds"] < 300
        checks["million_peak_rss_under_1_gib"] = largest["peak_rss_mb"] < 1024
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark osm-build against the OSM emulator on 127.0.0.1.")
    parser.add_argument("--quick", action="store_true", help="10,000 products only, one cold and one warm build")
    parser.add_argument("--products", type=int, nargs="*", help="catalog sizes to run instead of the defaults")
    parser.add_argument("--repetitions", type=int, help="builds per size (default: 3 for 10,000, else 1)")
    parser.add_argument("--latency-ms", type=float, default=50, help="emulator latency per response, in ms")
    parser.add_argument("--name", help="result file name without .json (default: quick or full)")
    parser.add_argument("--work", type=Path, default=BENCH / "work", help="folder for generated data")
    args = parser.parse_args()

    name = args.name or ("quick" if args.quick else "full")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    if args.products:
        sizes = tuple((products, 3 if products <= 10_000 else 1) for products in args.products)
    if args.repetitions:
        sizes = tuple((products, args.repetitions) for products, _ in sizes)
    incremental_size = INCREMENTAL_PRODUCTS["quick" if args.quick else "full"]
    if incremental_size not in [products for products, _ in sizes]:
        incremental_size = sizes[0][0]

    source_at_start = source_state()
    emulator = Emulator(args.latency_ms)
    by_size = {}
    try:
        for products, repetitions in sizes:
            source = source_state()
            by_size[str(products)] = run_size(
                products, repetitions, emulator, args.latency_ms, args.work,
                micro=True, incremental=products == incremental_size, webhook=products == incremental_size,
            )
            by_size[str(products)]["source"] = {"start": source, "end": source_state()}
            # Keep what is done so far, because the 1,000,000-product size alone takes many minutes.
            partial = BENCH / "results" / f"{name}.partial.json"
            partial.parent.mkdir(exist_ok=True)
            partial.write_text(json.dumps(by_size, indent=1) + "\n", encoding="utf-8")
    finally:
        emulator.stop()

    headline = by_size[str(incremental_size)]
    result = {
        "name": name,
        "command": "python bench/run.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "source": {"start": source_at_start, "end": source_state()},
        "latency_ms": args.latency_ms,
        "concurrency": CONCURRENCY,
        "headline_products": incremental_size,
        **{key: headline.get(key) for key in (
            "requests_sent_cold", "distinct_requests", "requests_sent_warm", "fetch_vs_ideal",
            "render_vs_jinja", "read_vs_csv", "incremental_seconds", "fill_pages_per_second", "page_bytes",
            "webhook_seconds", "webhook_build_seconds",
        )},
        "peak_rss_mb": max(size["peak_rss_mb"] for size in by_size.values()),
        "sizes": by_size,
    }
    result["targets"] = targets(result, by_size)
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    (results / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({key: value for key, value in result.items() if key != "sizes"}, indent=1))


if __name__ == "__main__":
    main()
