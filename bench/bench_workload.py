"""Generate the benchmark's catalogs, pages and site_config.yaml under one work folder.

Catalog: a generic CSV (id, variant_id, title, category, price in EUR) for three euro markets
(de-DE, fr-FR, nl-NL), so every market displays the same amount. 80 % of the products have one
row and 20 % have two or three variants, half of those with a price per variant. 99 % of the rows
take a "psychological" price point (4.99, 19.95, 99.99, 1499.99, ...) drawn with Zipf-like
weights; 1 % take an arbitrary price between 1.00 and 2500.00, the long tail that makes distinct
amounts grow with the catalog.

Pages: up to ``PRODUCT_PAGE_LIMIT`` products, one page per product with one placeholder; above
it, category pages listing 100 products each. Every page has a top-strip placeholder, and pages
take the three markets' languages in turn.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

MARKETS = ("de-DE", "fr-FR", "nl-NL")
PRODUCT_PAGE_LIMIT = 100_000
CATEGORY_PAGE_SIZE = 100
LONG_TAIL_SHARE = 0.01
ZIPF_EXPONENT = 1.1
CLIENT_ID = "6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Workload:
    """The files of one generated catalog size."""

    folder: Path
    products: int
    rows: int
    pages: int

    @property
    def catalog(self) -> Path:
        return self.folder / "catalog.csv"

    @property
    def config(self) -> Path:
        return self.folder / "site_config.yaml"

    @property
    def output(self) -> Path:
        return self.folder / "_site"

    @property
    def cache(self) -> Path:
        return self.folder / "osm-cache"


def price_points() -> list[str]:
    """Return the psychological price points in EUR, most popular first (a fixed shuffle)."""
    cents = set()
    cents.update(whole * 100 + 99 for whole in range(4, 100))
    cents.update(whole * 100 + 95 for whole in range(4, 50))
    cents.update(tens * 1000 - 1 for tens in range(10, 100))
    cents.update(fifties * 5000 - 1 for fifties in range(20, 41))
    cents.update(fives * 500 for fives in range(1, 100))
    ordered = sorted(cents)
    random.Random(11).shuffle(ordered)
    return [f"{value // 100}.{value % 100:02d}" for value in ordered]


def generate(folder: Path, products: int, *, base_url: str = "http://127.0.0.1:1",
             product_fragments: bool = False, seed: int = 1) -> Workload:
    """Write catalog.csv, pages/ and site_config.yaml into ``folder``, unless already there.

    A ``workload.json`` stamp records what was generated; a folder with a matching stamp is
    reused, so repeated runs skip the generation. The config's ``klarna.base_url`` is rewritten
    on every call because each run starts its emulator on a new port.
    """
    folder.mkdir(parents=True, exist_ok=True)
    stamp_path = folder / "workload.json"
    wanted = {"version": FORMAT_VERSION, "products": products, "seed": seed}
    stamp = json.loads(stamp_path.read_text()) if stamp_path.is_file() else {}
    if {key: stamp.get(key) for key in wanted} == wanted:
        workload = Workload(folder, products, stamp["rows"], stamp["pages"])
    else:
        rows = _write_catalog(folder / "catalog.csv", products, seed)
        pages = _write_pages(folder / "pages", products)
        workload = Workload(folder, products, rows, pages)
        stamp_path.write_text(json.dumps({**wanted, "rows": rows, "pages": pages}) + "\n")
    write_config(workload, base_url, product_fragments=product_fragments)
    return workload


def write_config(workload: Workload, base_url: str, *, product_fragments: bool) -> None:
    """Write site_config.yaml for the emulator at ``base_url`` with concurrency 16."""
    config = {
        "klarna": {
            "environment": "emulator",
            "region": "eu",
            "api_version": "v3",
            "client_id": CLIENT_ID,
            "base_url": base_url,
            "concurrency": 16,
            # High enough that the token bucket never limits: the target is the concurrency.
            "requests_per_second": 100_000,
        },
        "markets": [{"locale": locale, "currency": "EUR"} for locale in MARKETS],
        "placements": [{"key": "credit-promotion-badge"}, {"key": "top-strip-promotion-badge"}],
        "catalog": {
            "path": "catalog.csv",
            "format": "csv",
            "currency": "EUR",
            "mapping": {"product_id": "id", "variant_id": "variant_id", "title": "title", "price": "price"},
        },
        "site": {"pages": "pages"},
        "output": {"directory": "_site", "product_fragments": product_fragments},
        "cache": {"directory": "osm-cache"},
    }
    workload.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def product_id(number: int) -> str:
    """Return the id of product ``number`` (0-based)."""
    return f"P{number:07d}"


def _write_catalog(path: Path, products: int, seed: int) -> int:
    generator = random.Random(seed)
    points = price_points()
    weights = [1 / (rank + 1) ** ZIPF_EXPONENT for rank in range(len(points))]
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    sorted_points = sorted(points, key=lambda text: int(text.replace(".", "")))
    rank_in_sorted = {text: position for position, text in enumerate(sorted_points)}

    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "variant_id", "title", "category", "price"])
        batch_size = 10_000
        for start in range(0, products, batch_size):
            count = min(batch_size, products - start)
            drawn = generator.choices(points, cum_weights=cumulative, k=count)
            for offset, price in enumerate(drawn):
                number = start + offset
                if generator.random() < LONG_TAIL_SHARE:
                    cents = generator.randint(100, 250_000)
                    price = f"{cents // 100}.{cents % 100:02d}"
                identifier = product_id(number)
                title = f"Product {number}"
                category = f"c{number // CATEGORY_PAGE_SIZE:05d}"
                shape = generator.random()
                if shape < 0.8:
                    writer.writerow([identifier, "", title, category, price])
                    rows += 1
                    continue
                variants = 2 + (shape >= 0.9)
                priced_per_variant = generator.random() < 0.5
                for variant in range(variants):
                    variant_price = price
                    if priced_per_variant and price in rank_in_sorted:
                        step = min(rank_in_sorted[price] + variant, len(sorted_points) - 1)
                        variant_price = sorted_points[step]
                    writer.writerow([identifier, f"{identifier}-{variant + 1}", f"{title} / size {variant + 1}",
                                     category, variant_price])
                    rows += 1
    return rows


def _write_pages(folder: Path, products: int) -> int:
    if products <= PRODUCT_PAGE_LIMIT:
        pages = [(f"p/{number // 1000:04d}/{product_id(number)}.html", [number]) for number in range(products)]
    else:
        pages = [
            (f"c/{first // (CATEGORY_PAGE_SIZE * 1000):04d}/c{first // CATEGORY_PAGE_SIZE:05d}.html",
             list(range(first, min(first + CATEGORY_PAGE_SIZE, products))))
            for first in range(0, products, CATEGORY_PAGE_SIZE)
        ]
    for position, (relative, numbers) in enumerate(pages):
        language = MARKETS[position % len(MARKETS)]
        placeholders = "\n".join(
            f'    <li><a href="/p/{product_id(number)}">Product {number}</a>\n'
            f'      <div data-osm-placement="credit-promotion-badge" data-osm-product="{product_id(number)}"></div></li>'
            for number in numbers
        )
        page = (
            f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n  <meta charset="utf-8">\n'
            f"  <title>{relative}</title>\n</head>\n<body>\n"
            '  <div data-osm-placement="top-strip-promotion-badge"></div>\n'
            f"  <ul>\n{placeholders}\n  </ul>\n</body>\n</html>\n"
        )
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page, encoding="utf-8")
    return len(pages)


def change_price(catalog: Path, product: str, new_price: str) -> int:
    """Rewrite ``catalog`` with every row of ``product`` priced ``new_price``; return rows changed."""
    changed = 0
    temporary = catalog.with_suffix(".csv.tmp")
    with catalog.open(encoding="utf-8", newline="") as source, \
            temporary.open("w", encoding="utf-8", newline="") as target:
        reader = csv.reader(source)
        writer = csv.writer(target)
        header = next(reader)
        writer.writerow(header)
        id_at, price_at = header.index("id"), header.index("price")
        for row in reader:
            if row[id_at] == product:
                row[price_at] = new_price
                changed += 1
            writer.writerow(row)
    temporary.replace(catalog)
    return changed
