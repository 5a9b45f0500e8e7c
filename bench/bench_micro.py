"""Throughput of single stages against their bare-library limits, in this process.

- catalog read: ``osm_build.catalog.read_catalog`` (rows/s) against a ``csv.reader`` loop over
  the same file;
- render: ``FragmentRenderer.render`` (fragments/s) against a bare Jinja loop that renders the
  same template with the same answers, already turned into nodes.
"""

from __future__ import annotations

import csv
import statistics
import time
from datetime import UTC, datetime

import jinja2

from osm_build.catalog import read_catalog
from osm_build.catalog.model import CatalogReport
from osm_build.config import load_config
from osm_build.fetch import fetch_answers_sync
from osm_build.fetch.models import FetchReport
from osm_build.plan import build_plan
from osm_build.render import FragmentRenderer, clean_nodes, default_templates_dir, safe_url

BADGE = "credit-promotion-badge"
# Environment settings that change how a template compiles or renders. The bare loop must match
# FragmentRenderer in each, or the ratio compares different work.
JINJA_SETTINGS = (
    "autoescape", "undefined", "keep_trailing_newline", "auto_reload", "trim_blocks", "lstrip_blocks",
    "block_start_string", "variable_start_string", "comment_start_string", "newline_sequence",
    "optimized", "finalize", "is_async",
)


def read_throughput(config_path, repetitions: int) -> dict:
    """Return median rows/s of ``read_catalog`` and of ``csv.reader`` on the configured catalog."""
    config = load_config(config_path)
    settings = config.settings
    path = config.resolve(settings.catalog.path)
    now = datetime.now(UTC)
    osm_rates, csv_rates = [], []
    rows = 0
    for _ in range(repetitions):
        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as handle:
            rows = sum(1 for _ in csv.reader(handle)) - 1
        csv_rates.append(rows / (time.perf_counter() - started))

        report = CatalogReport()
        started = time.perf_counter()
        for _ in read_catalog(settings.catalog, settings.markets, base_dir=config.base_dir, report=report, now=now):
            pass
        osm_rates.append(report.rows_read / (time.perf_counter() - started))
    osm, bare = statistics.median(osm_rates), statistics.median(csv_rates)
    return {"rows": rows, "read_rows_per_second": osm, "csv_rows_per_second": bare, "read_vs_csv": osm / bare}


def cached_answers(config_path) -> list:
    """Return the answers of every distinct badge request, read from the build's warm cache."""
    config = load_config(config_path)
    settings = config.settings
    items = read_catalog(settings.catalog, settings.markets, base_dir=config.base_dir, report=CatalogReport())
    plan = build_plan(items, settings.placements, [market.locale for market in settings.markets])
    requests = [request for request in plan.sorted_requests() if request.placement_key == BADGE]
    report = FetchReport()
    answers = fetch_answers_sync(
        requests, settings.klarna, base_url=settings.klarna.base_url,
        cache_dir=config.resolve(settings.cache.directory), api_key=None, report=report,
    )
    return [answer for answer in answers.values() if answer.body is not None]


def render_throughput(answers: list, repetitions: int) -> dict:
    """Return median fragments/s of ``FragmentRenderer.render`` and of a bare Jinja loop."""
    renderer = FragmentRenderer(None, allow_loopback_http=True)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(default_templates_dir())), autoescape=True,
        undefined=jinja2.StrictUndefined, keep_trailing_newline=False, auto_reload=False,
        trim_blocks=True, lstrip_blocks=True,
    )
    for setting in JINJA_SETTINGS:
        ours, theirs = getattr(environment, setting), getattr(renderer.environment, setting)
        if ours != theirs:
            raise RuntimeError(f"the bare Jinja loop has {setting}={ours!r} but FragmentRenderer has "
                               f"{theirs!r}; update render_throughput to match osm_build/render.py")
    template = environment.get_template(f"{BADGE}.html")
    prepared = [
        {
            "placement_key": BADGE, "locale": answer.request.locale,
            "purchase_amount": answer.request.purchase_amount,
            "nodes": clean_nodes(answer.body, allow_loopback_http=True, problems=[]),
            "impression_url": safe_url(answer.body.get("impression_url"), allow_loopback_http=True),
        }
        for answer in answers
    ]
    # Render the list several times per repetition so that one timing covers at least ~0.2 s.
    rounds = max(1, 2000 // max(1, len(answers)))
    osm_rates, bare_rates = [], []
    for _ in range(repetitions):
        started = time.perf_counter()
        for _ in range(rounds):
            for variables in prepared:
                template.render(**variables).strip()
        bare_rates.append(rounds * len(prepared) / (time.perf_counter() - started))

        started = time.perf_counter()
        for _ in range(rounds):
            for answer in answers:
                renderer.render(
                    f"{BADGE}.html", placement_key=BADGE, locale=answer.request.locale,
                    purchase_amount=answer.request.purchase_amount, body=answer.body, problems=[],
                )
        osm_rates.append(rounds * len(answers) / (time.perf_counter() - started))
    osm, bare = statistics.median(osm_rates), statistics.median(bare_rates)
    return {
        "render_fragments": len(answers),
        "render_fragments_per_second": osm,
        "jinja_fragments_per_second": bare,
        "render_vs_jinja": osm / bare,
    }
