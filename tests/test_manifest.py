"""Tests for reading the manifest header and product lines."""

import json

from osm_build.manifest import PublishedProducts, iter_product_lines, read_header, read_products


def test_manifest_parts_match_full_parse(example_site, tmp_path):
    from osm_build.build import run_build
    from osm_build.config import load_config

    run_build(load_config(example_site()))
    path = tmp_path / "_site" / "osm" / "manifest.json"
    full = json.loads(path.read_text(encoding="utf-8"))

    header = read_header(path)
    assert "products" not in header
    assert header == {key: value for key, value in full.items() if key != "products"}
    lines = dict(iter_product_lines(path))
    assert {key: json.loads(entries) for key, entries in lines.items()} == full["products"]
    assert read_products(path, ["58", "absent"]) == {"58": full["products"]["58"]}
    published = PublishedProducts(path)
    assert "45" in published
    assert "absent" not in published
    assert published["45"] == full["products"]["45"]
    assert len(published) == len(full["products"])


def test_unusual_product_ids_round_trip(tmp_path):
    products = {'a"b': [{"locale": "en-US"}], "line\nbreak": [], "ü/../x": [{"n": 1}]}
    path = tmp_path / "manifest.json"
    body = ",".join(f"\n  {json.dumps(key)}: {json.dumps(value)}" for key, value in products.items())
    path.write_text('{\n "pages": {}' + ',\n "products": {' + body + "\n }\n}\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["products"] == products
    assert read_header(path) == {"pages": {}}
    assert read_products(path) == products


def test_other_layout_parsed_whole(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({"products": {"1": [{"a": 1}]}, "pages": {"p": ["1"]}}), encoding="utf-8")
    assert read_header(path) == {"pages": {"p": ["1"]}}
    assert read_products(path) == {"1": [{"a": 1}]}
