"""End-to-end builds of the example site against the emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from osm_build.build import BuildOptions, run_build
from osm_build.catalog.model import PricedItem
from osm_build.cli import main
from osm_build.config import load_config
from osm_build.errors import AccessDeniedError
from osm_build.publish import Publisher


def build(config_path: Path, **options):
    return run_build(load_config(config_path), BuildOptions(**options))


def test_example_site_pages_show_messages(example_site, emulator, tmp_path):
    report = build(example_site())
    stats = emulator.stats()

    assert report.fetch.requests_sent == report.distinct_requests
    assert stats["requests"] == report.distinct_requests
    assert stats["impressions"] == 0

    belt = (tmp_path / "_site" / "products" / "belt.html").read_text(encoding="utf-8")
    # The belt is on sale at $55.00: four payments of $13.75.
    assert "Make 4 payments of $13.75. No fees." in belt
    assert belt.count("data-osm-beacon") == 1
    hoodie = (tmp_path / "_site" / "products" / "hoodie.html").read_text(encoding="utf-8")
    assert "Make 4 payments of $10.50. No fees." in hoodie
    assert '<template data-osm-amount="4500"' in hoodie
    spanish = (tmp_path / "_site" / "es" / "index.html").read_text(encoding="utf-8")
    assert 'lang="es-US" data-osm-amount="9000"' in spanish


def test_build_report_counts(example_site, tmp_path):
    report = build(example_site())
    data = report.to_dict()
    assert data["products"] == 16
    assert data["rows_read"] == 25
    assert data["distinct_requests"] == len({(request["placement_key"], request["locale"], request["purchase_amount"])
                                              for request in _plan_requests(tmp_path / "site_config.yaml")})
    assert data["pages_written"] == 6
    assert data["failed_requests"] == []
    written = json.loads((tmp_path / "_site" / "osm" / "build-report.json").read_text(encoding="utf-8"))
    assert written["requests_sent"] == data["requests_sent"]


def _plan_requests(config_path: Path) -> list[dict]:
    result = CliRunner().invoke(main, ["plan", "--json", "-c", str(config_path)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["requests"]


def test_plan_json_lists_requests_and_items(example_site, emulator):
    config_path = example_site()
    result = CliRunner().invoke(main, ["plan", "--json", "-c", str(config_path)])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["products"] == 16
    assert {"placement_key": "credit-promotion-badge", "locale": "en-US", "purchase_amount": 4200} in document["requests"]
    assert {"placement_key": "top-strip-promotion-badge", "locale": "es-US", "purchase_amount": None} in document["requests"]
    hoodie_red = [item for item in document["items"] if item["variant"] == "79" and item["locale"] == "en-US"]
    assert hoodie_red == [{"product": "45", "variant": "79", "locale": "en-US", "purchase_amount": 4200,
                           "source": hoodie_red[0]["source"]}]
    assert re.fullmatch(r"woocommerce_products\.csv:\d+", hoodie_red[0]["source"])
    assert emulator.stats()["requests"] == 0


def test_second_build_gives_same_pages(example_site, tmp_path):
    config_path = example_site()
    build(config_path)
    first = {path.relative_to(tmp_path / "_site"): path.read_bytes()
             for path in (tmp_path / "_site").rglob("*.html")}
    build(config_path)
    second = {path.relative_to(tmp_path / "_site"): path.read_bytes()
              for path in (tmp_path / "_site").rglob("*.html")}
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name
    assert second[Path("index.html")].count(b"<!--osm:begin-->") == 4


def test_unknown_client_id_stops_after_one_request(example_site, emulator, tmp_path):
    config_path = example_site(klarna={"client_id": "00000000-0000-0000-0000-000000000000"})
    with pytest.raises(AccessDeniedError) as raised:
        build(config_path)
    message = raised.value.message
    assert "00000000-0000-0000-0000-000000000000" in message
    assert "User-Agent" in message
    assert "account manager" in message
    assert re.search(r"klarna-correlation-id [0-9a-f-]{36}", message)
    assert emulator.stats()["requests"] == 1
    assert not (tmp_path / "_site").exists()


def test_hostile_catalog_stays_inside_output(emulator, tmp_path, example_site):
    catalog = tmp_path / "hostile.csv"
    catalog.write_text(
        'id,title,price\n'
        '../../x,"<script>alert(1)</script>",45.00\n'
        '"<img src=x onerror=alert(1)>",Plain,50.00\n',
        encoding="utf-8",
    )
    pages = tmp_path / "hostile_pages"
    pages.mkdir()
    (pages / "index.html").write_text(
        '<html lang="en-US"><head></head><body>'
        '<div data-osm-placement="credit-promotion-badge" data-osm-product="../../x"></div>'
        '<div data-osm-placement="credit-promotion-badge" data-osm-product="&lt;img src=x onerror=alert(1)&gt;"></div>'
        '</body></html>', encoding="utf-8")
    config_path = example_site(catalog={"path": str(catalog), "format": "csv", "currency": "USD"},
                               site={"pages": str(pages)})
    report = build(config_path)
    assert report.placeholders_filled == 2

    output = (tmp_path / "_site").resolve()
    for path in tmp_path.rglob("*"):
        if path.is_file() and "x" == path.stem:
            raise AssertionError(f"{path} written outside the product folders")
    assert not (tmp_path.parent / "x").exists()
    product_files = list((output / "osm" / "products").rglob("*.html"))
    assert len(product_files) == 4
    for path in product_files:
        assert path.resolve().is_relative_to(output / "osm" / "products")
    page = (output / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    manifest = (output / "osm" / "manifest.json").read_text(encoding="utf-8")
    assert '"../../x"' in manifest


def test_cli_build_prints_report(example_site, tmp_path):
    result = CliRunner().invoke(main, ["-q", "build", "-c", str(example_site())])
    assert result.exit_code == 0, result.output
    assert "Distinct requests:" in result.stderr
    assert "Requests sent:" in result.stderr
    assert (tmp_path / "_site" / "index.html").is_file()


def test_cli_config_error_exit_code(tmp_path):
    path = tmp_path / "site_config.yaml"
    path.write_text("klarna:\n  environment: nope\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "-c", str(path)])
    assert result.exit_code == 1
    assert "Error: " in result.output
    assert "line 2, klarna.environment: must be one of" in result.output
    assert "Traceback" not in result.output


def test_only_rebuilds_changed_product_pages(example_site, emulator, tmp_path):
    config_path = example_site()
    build(config_path)
    site = tmp_path / "_site"
    untouched = (site / "products" / "hoodie.html").stat().st_ino
    catalog = tmp_path / "example_site" / "catalog" / "woocommerce_products.csv"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(",55,65,", ",49,65,"), encoding="utf-8")
    before = emulator.stats()["requests"]

    report = build(config_path, only_products=frozenset({"58"}))

    assert report.pages_written == 2
    assert "Make 4 payments of $12.25. No fees." in (site / "products" / "belt.html").read_text(encoding="utf-8")
    assert "Make 4 payments of $12.25. No fees." in (site / "index.html").read_text(encoding="utf-8")
    assert (site / "products" / "hoodie.html").stat().st_ino == untouched
    sent = emulator.stats()["requests_log"][before:]
    # The other products on the two pages come from the cache.
    assert sorted((entry["locale"], entry["purchase_amount"]) for entry in sent) == [("en-US", 4900), ("es-US", 4900)]


def test_price_overrides_skip_catalog_read(example_site, tmp_path):
    config_path = example_site()
    build(config_path)
    (tmp_path / "example_site" / "catalog" / "woocommerce_products.csv").unlink()
    override = PricedItem(product="58", variant=None, title="Belt", locale="en-US", purchase_amount=4900,
                          source="webhook")

    report = build(config_path, only_products=frozenset({"58"}), price_overrides=[override])

    site = tmp_path / "_site"
    belt = (site / "products" / "belt.html").read_text(encoding="utf-8")
    assert "Make 4 payments of $12.25. No fees." in belt
    assert report.catalog.rows_read == 0
    manifest = json.loads((site / "osm" / "manifest.json").read_text(encoding="utf-8"))
    amounts = {entry["locale"]: entry["purchase_amount"] for entry in manifest["products"]["58"]}
    assert amounts == {"en-US": 4900, "es-US": 5500}
    assert len(manifest["products"]) == 16
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "Make 4 payments of $10.50. No fees." in index


def test_huge_price_row_reported_not_crashing(example_site, tmp_path):
    catalog = tmp_path / "huge.csv"
    catalog.write_text("id,title,price\n58,Belt,99999999999999999999999999.99\n62,Sunglasses,90.00\n", encoding="utf-8")
    report = build(example_site(catalog={"path": str(catalog), "format": "csv", "currency": "USD"}))
    assert report.catalog.row_errors == 1
    assert report.catalog.skipped_by_reason["price too large"] == 1
    assert any("99999999999999999999999999.99" in str(error) for error in report.catalog.errors)
    assert "Make 4 payments of $22.50. No fees." in (tmp_path / "_site" / "index.html").read_text(encoding="utf-8")


def test_duplicate_product_rows_reported(example_site, tmp_path):
    catalog = tmp_path / "dup.csv"
    catalog.write_text("id,title,price\n58,Belt,55.00\n62,Sunglasses,90.00\n58,Belt,50.00\n", encoding="utf-8")
    report = build(example_site(catalog={"path": str(catalog), "format": "csv", "currency": "USD"}))
    assert report.problems[:2] == [
        "product 58 is priced 2 times for en-US (dup.csv:2, dup.csv:4: 5500, 5000); pages show the first, "
        "so remove the duplicate rows",
        "product 58 is priced 2 times for es-US (dup.csv:2, dup.csv:4: 5500, 5000); pages show the first, "
        "so remove the duplicate rows",
    ]


def test_only_unknown_product_reported(example_site):
    config_path = example_site()
    build(config_path)
    report = build(config_path, only_products=frozenset({"999999"}))
    assert report.problems == ["--only 999999: no priced item with this product id in the catalog"]


def test_incremental_build_leaves_old_release_untouched(example_site, tmp_path):
    config_path = example_site()
    build(config_path)
    old_release = (tmp_path / "_site").resolve()
    before = {path: path.read_bytes() for path in old_release.rglob("*") if path.is_file()}

    build(config_path, only_products=frozenset({"58"}))

    assert (tmp_path / "_site").resolve() != old_release
    after = {path: path.read_bytes() for path in old_release.rglob("*") if path.is_file()}
    assert after.keys() == before.keys()
    for path in before:
        assert after[path] == before[path], path


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root, read through symbolic links, by relative path."""
    files = {}
    for folder, _, names in os.walk(root, followlinks=True):
        for name in names:
            path = Path(folder) / name
            files[str(path.relative_to(root))] = path.read_bytes()
    return files


def test_shared_folders_incremental_build(example_site, tmp_path):
    config_path = example_site(output={"share_unchanged_folders": True})
    build(config_path)
    site = tmp_path / "_site"
    first_release = site.resolve()
    before = tree(first_release)
    catalog = tmp_path / "example_site" / "catalog" / "woocommerce_products.csv"
    catalog.write_text(catalog.read_text(encoding="utf-8").replace(",55,65,", ",49,65,"), encoding="utf-8")

    build(config_path, only_products=frozenset({"58"}))

    new_release = site.resolve()
    assert tree(first_release) == before
    after = tree(new_release)
    assert before.keys() <= after.keys()
    assert sorted(after.keys() - before.keys()) == [
        "osm/fragments/credit-promotion-badge/en-US/4900.html",
        "osm/fragments/credit-promotion-badge/es-US/4900.html",
    ]
    changed = {name for name in before if after[name] != before[name]}
    assert {"index.html", "products/belt.html", "osm/manifest.json", "osm/build-report.json"} <= changed
    assert "products/hoodie.html" not in changed
    assert "Make 4 payments of $12.25. No fees." in after["products/belt.html"].decode("utf-8")
    # Folders without a changed file are links into the first release, not copies.
    assert (new_release / "es").is_symlink()
    assert (new_release / "es").resolve() == first_release / "es"
    assert not (new_release / "products").is_symlink()


def test_shared_folders_keep_owner_releases(example_site, tmp_path):
    config_path = example_site(output={"share_unchanged_folders": True})
    build(config_path)
    first_release = (tmp_path / "_site").resolve()
    for price in ("49", "48", "47"):
        catalog = tmp_path / "example_site" / "catalog" / "woocommerce_products.csv"
        text = catalog.read_text(encoding="utf-8")
        catalog.write_text(text.replace(",55,65,", f",{price},65,").replace(",49,65,", f",{price},65,")
                           .replace(",48,65,", f",{price},65,"), encoding="utf-8")
        publisher_report = build(config_path, only_products=frozenset({"58"}))
        assert publisher_report.pages_written == 2
    Publisher(tmp_path / "_site").wait_for_cleanup()

    assert first_release.is_dir(), "a release that newer ones link into was removed"
    spanish = (tmp_path / "_site" / "es" / "index.html").read_text(encoding="utf-8")
    assert 'lang="es-US" data-osm-amount="4200"' in spanish
    belt = (tmp_path / "_site" / "products" / "belt.html").read_text(encoding="utf-8")
    assert "Make 4 payments of $11.75. No fees." in belt

    # Two full builds later nothing links into the first release, so it goes.
    build(config_path)
    build(config_path)
    Publisher(tmp_path / "_site").wait_for_cleanup()
    assert not first_release.exists()
    assert len(list((tmp_path / "._site.releases").glob("release-*"))) == 2


def test_incremental_build_prices_only_scope(example_site, tmp_path):
    config_path = example_site()
    build(config_path)
    report = build(config_path, only_products=frozenset({"58"}))
    # Belt (58) is on index.html with 45, 62 and 44, so those four products are priced again.
    assert report.products == 4
    # Two markets: belt and sunglasses one item each, the hoodie four variants, the V-neck three
    # (a full build prices 42 items).
    assert report.catalog.items_priced == (1 + 1 + 4 + 3) * 2
