"""Tests for safe file names and the beacon script's name and hash."""

import base64
import hashlib

from osm_build.assets import load_beacon_script, safe_file_name


def test_safe_file_name_never_escapes():
    for identifier in ["../../x", "/etc/passwd", "..", ".", "a/b\\c", "con:1", "\x00", "<script>", "é"]:
        name = safe_file_name(identifier)
        assert "/" not in name
        assert "\\" not in name
        assert ".." not in name
        assert not name.startswith(".")
        assert name.replace("_", "").replace("-", "").isalnum()


def test_safe_file_name_keeps_ids_apart():
    assert safe_file_name("a/b") != safe_file_name("a_b")
    assert safe_file_name("44") == safe_file_name("44")
    assert safe_file_name("woo-hoodie").startswith("woo-hoodie-")


def test_beacon_script_named_by_content_hash():
    beacon = load_beacon_script()
    digest = hashlib.sha256(beacon.content).hexdigest()[:12]
    assert beacon.file_name == f"osm-beacon.{digest}.js"
    assert beacon.integrity == "sha384-" + base64.b64encode(hashlib.sha384(beacon.content).digest()).decode()
    tag = beacon.tag("../osm/x.js", mode="viewable", count_back_forward_cache=False)
    assert 'integrity="sha384-' in tag
    assert " defer " in tag
    assert 'data-osm-mode="viewable"' in tag
