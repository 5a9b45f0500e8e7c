"""Run one osm-build build in this process and write its figures as JSON.

Run: python bench/bench_child.py CONFIG RESULT_JSON [--only PRODUCT_ID]. The benchmark starts
this script once per build so that each build's peak RSS is its own. Stage times come from
wrappers put around the stage functions that ``osm_build.build.run_build`` calls; the build code
itself is not changed. ``read_plan`` covers reading the catalog too, because ``build_plan``
consumes the catalog stream.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

from osm_build import build as build_module
from osm_build.build import BuildOptions, run_build
from osm_build.config import load_config
from osm_build.output import PageFiller

STAGES = {
    "build_plan": "read_plan",
    "fetch_plan": "fetch",
    "render_fragments": "render",
    "write_fragments": "write_fragments",
    "write_product_fragments": "write_product_fragments",
    "write_manifest": "write_manifest",
    "link_tree": "link_previous_release",
}
PAGE_STAGES = {"fill_site": "fill_pages", "fill_pages": "fill_pages"}


def install_stage_timers(seconds: defaultdict[str, float]) -> None:
    """Wrap the stage functions that ``run_build`` looks up in its module, adding up their time."""

    def timed(function, stage):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - started
        return wrapper

    for name, stage in STAGES.items():
        setattr(build_module, name, timed(getattr(build_module, name), stage))
    for name, stage in PAGE_STAGES.items():
        setattr(PageFiller, name, timed(getattr(PageFiller, name), stage))
    publisher_class = build_module.Publisher
    publisher_class.publish = timed(publisher_class.publish, "publish")


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MiB (``ru_maxrss`` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("result", type=Path)
    parser.add_argument("--only", help="product id for an incremental build")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")

    seconds: defaultdict[str, float] = defaultdict(float)
    install_stage_timers(seconds)
    started = time.perf_counter()
    config = load_config(args.config)
    options = BuildOptions(only_products=frozenset({args.only}) if args.only else None)
    report = run_build(config, options)
    total = time.perf_counter() - started

    data = report.to_dict()
    result = {
        "seconds": total,
        "stages": dict(seconds),
        "report_stages": data.get("stage_seconds", {}),
        "peak_rss_mb": peak_rss_mb(),
        "requests_sent": data["requests_sent"],
        "cache_hits": data["cache_hits"],
        "retries": data.get("retries", 0),
        "distinct_requests": data["distinct_requests"],
        "products": data["products"],
        "rows_read": data["rows_read"],
        "items_priced": data["items_priced"],
        "fragments_written": data["fragments_written"],
        "pages_written": data["pages_written"],
        "placeholders_filled": data["placeholders_filled"],
        "placeholders_empty": data["placeholders_empty"],
        "failed_requests": len(data["failed_requests"]),
        "warnings": data["warnings"],
        "published": report.published,
    }
    args.result.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
