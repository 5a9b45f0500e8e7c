"""Builds against a failing or slow OSM API: cache, retries, stale fallback, crashes, secrets."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from osm_build.build import BuildOptions, StrictModeError, run_build
from osm_build.config import load_config
from osm_build.emulator.server import start_emulator
from osm_build.emulator.settings import EmulatorSettings
from osm_build.errors import CatalogError, FetchError

FAST_RETRY = {"max_attempts": 6, "backoff_seconds": 0.01, "max_wait_seconds": 0.05, "max_total_wait_seconds": 1}


def build(config_path: Path, **options):
    return run_build(load_config(config_path), BuildOptions(**options))


def pages(site: Path) -> dict[str, bytes]:
    return {str(path.relative_to(site)): path.read_bytes() for path in sorted(site.rglob("*.html"))}


def test_second_build_sends_nothing_while_fresh(example_site, emulator):
    config_path = example_site()
    first = build(config_path)
    second = build(config_path)
    assert first.fetch.requests_sent == first.distinct_requests
    assert second.fetch.requests_sent == 0
    assert second.fetch.cache_hits == second.distinct_requests
    assert emulator.stats()["requests"] == first.distinct_requests


def test_expired_answers_are_revalidated(tmp_path, example_site):
    with start_emulator(EmulatorSettings(port=0, max_age_seconds=1)) as short_lived:
        config_path = example_site(klarna={"base_url": short_lived.base_url})
        first = build(config_path)
        time.sleep(1.2)
        second = build(config_path)
        stats = short_lived.stats()
    assert second.fetch.revalidated == first.distinct_requests
    assert second.fetch.requests_sent == first.distinct_requests
    assert stats["by_status"].get("304") == first.distinct_requests


def test_faults_are_retried_to_completion(example_site, tmp_path):
    settings = EmulatorSettings(port=0, fail_rate=0.3, throttle_rate=0.2, retry_after="0", seed=3)
    with start_emulator(settings) as flaky:
        config_path = example_site(klarna={"base_url": flaky.base_url, "retry": FAST_RETRY},
                                   cache={"enabled": False})
        report = build(config_path)
        stats = flaky.stats()
    assert report.failed == []
    assert report.stale == []
    assert report.fetch.retries > 0
    assert report.fetch.retries == stats["requests"] - report.distinct_requests
    assert stats["by_status"].get("429", 0) + stats["by_status"].get("500", 0) + stats["by_status"].get("503", 0) > 0
    belt = (tmp_path / "_site" / "products" / "belt.html").read_text(encoding="utf-8")
    assert "Make 4 payments of $13.75. No fees." in belt


def test_total_failure_keeps_published_pages(example_site, tmp_path):
    config_path = example_site(cache={"enabled": False})
    build(config_path)
    before = pages(tmp_path / "_site")

    with start_emulator(EmulatorSettings(port=0, fail_rate=1.0, seed=1)) as broken:
        broken_config = example_site(klarna={"base_url": broken.base_url, "retry": FAST_RETRY},
                                     cache={"enabled": False})
        report = build(broken_config)

    assert pages(tmp_path / "_site") == before
    # Ten responses had a message in the good build, and the others had nothing to show.
    assert len(report.stale) == 10
    assert all("kept the published fragment" in line for line in report.stale)
    assert len(report.failed) == report.distinct_requests - 10


def test_strict_total_failure_publishes_nothing(example_site, tmp_path):
    config_path = example_site(cache={"enabled": False})
    build(config_path)
    release = os.readlink(tmp_path / "_site")
    with start_emulator(EmulatorSettings(port=0, fail_rate=1.0, seed=1)) as broken:
        broken_config = example_site(klarna={"base_url": broken.base_url, "retry": FAST_RETRY},
                                     cache={"enabled": False})
        with pytest.raises(StrictModeError, match="nothing was published"):
            build(broken_config, strict=True)
    assert os.readlink(tmp_path / "_site") == release


def test_expired_cache_served_when_api_fails(example_site, tmp_path):
    with start_emulator(EmulatorSettings(port=0, max_age_seconds=1)) as good:
        config_path = example_site(klarna={"base_url": good.base_url, "retry": FAST_RETRY})
        first = build(config_path)
        port = int(good.base_url.rsplit(":", 1)[1])
    before = pages(tmp_path / "_site")
    time.sleep(1.2)
    # The same address, now failing every request: the cache entries match but have expired.
    with start_emulator(EmulatorSettings(port=port, fail_rate=1.0, seed=2)):
        report = build(config_path)
    assert report.fetch.stale_served == first.distinct_requests
    assert len(report.stale) == first.distinct_requests
    assert all("served the cached answer" in line for line in report.stale)
    assert report.failed == []
    assert pages(tmp_path / "_site") == before


CRASHING_BUILD = """
import os, sys
from pathlib import Path
import osm_build.output as output
from osm_build.build import run_build
from osm_build.config import load_config

written = 0
original = output.write_new_file

def crash_after_three(path, content):
    global written
    written += 1
    if written > 3:
        os._exit(9)
    original(path, content)

output.write_new_file = crash_after_three
run_build(load_config(Path(sys.argv[1])))
"""


def test_crash_mid_build_leaves_old_output(example_site, tmp_path):
    config_path = example_site()
    build(config_path)
    before = pages(tmp_path / "_site")
    release = os.readlink(tmp_path / "_site")

    crashed = subprocess.run([sys.executable, "-c", CRASHING_BUILD, str(config_path)], capture_output=True)
    assert crashed.returncode == 9
    releases = tmp_path / "._site.releases"
    assert list(releases.glob("staging-*")), "the crash should leave its staging folder behind"
    assert os.readlink(tmp_path / "_site") == release
    assert pages(tmp_path / "_site") == before

    build(config_path)
    assert not list(releases.glob("staging-*"))


def test_v4_api_key_never_written(example_site, tmp_path, monkeypatch, caplog):
    secret = "klarna_test_api_S3cr3tValue-0123456789"
    monkeypatch.setenv("OSM_TEST_KLARNA_KEY", secret)
    monkeypatch.setenv("OSM_EMULATOR_API_KEYS", secret)
    with start_emulator(EmulatorSettings(port=0)) as emulator_v4:
        config_path = example_site(klarna={"base_url": emulator_v4.base_url, "api_version": "v4",
                                           "api_key_env": "OSM_TEST_KLARNA_KEY"})
        caplog.set_level(logging.DEBUG)
        report = build(config_path)
        result = subprocess.run([sys.executable, "-m", "osm_build", "-v", "build", "-c", str(config_path)],
                                capture_output=True, text=True, env={**os.environ})
    assert report.fetch.requests_sent == report.distinct_requests
    assert result.returncode == 0, result.stderr
    assert "Make 4 payments" in (tmp_path / "_site" / "products" / "belt.html").read_text(encoding="utf-8")

    encoded = base64.b64encode(f"{secret}:".encode()).decode()
    forms = [secret, encoded, secret[-12:]]
    texts = {"log (caplog)": caplog.text, "stdout": result.stdout, "stderr": result.stderr,
             "report": str(report.to_dict())}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    for name, text in texts.items():
        for form in forms:
            assert form not in text, f"{name} contains the API key"


def test_first_build_all_failing_publishes_nothing(example_site, tmp_path):
    with start_emulator(EmulatorSettings(port=0, fail_rate=1.0, seed=4)) as broken:
        config_path = example_site(klarna={"base_url": broken.base_url, "retry": FAST_RETRY})
        with pytest.raises(FetchError, match="requests failed and no earlier fragment can replace them"):
            build(config_path)
    assert not (tmp_path / "_site").exists()


def test_unreachable_api_keeps_published_pages(example_site, tmp_path):
    config_path = example_site(cache={"enabled": False})
    build(config_path)
    before = pages(tmp_path / "_site")
    closed = example_site(klarna={"base_url": "http://127.0.0.1:9", "retry": FAST_RETRY}, cache={"enabled": False})
    report = build(closed)
    assert pages(tmp_path / "_site") == before
    assert len(report.stale) == 10


def test_catalog_without_prices_publishes_nothing(example_site, tmp_path):
    catalog = tmp_path / "empty.csv"
    catalog.write_text("id,title,price\n", encoding="utf-8")
    config_path = example_site(catalog={"path": str(catalog), "format": "csv", "currency": "USD"})
    with pytest.raises(CatalogError, match="the catalog gave no priced item"):
        build(config_path)
    assert not (tmp_path / "_site").exists()


def test_strict_page_problem_publishes_nothing(example_site, tmp_path):
    (tmp_path / "example_site" / "pages" / "broken.html").write_text(
        '<html lang="en-US"><head></head><body>'
        '<div data-osm-placement="credit-promotion-badge" data-osm-product="no-such-product"></div>'
        "</body></html>", encoding="utf-8")
    config_path = example_site()
    with pytest.raises(StrictModeError, match="1 page problems; nothing was published"):
        build(config_path, strict=True)
    assert not (tmp_path / "_site").exists()
    report = build(config_path)
    assert report.problems == ["broken.html:1: product 'no-such-product' has no price for en-US in the catalog"]


def test_page_not_utf8_copied_and_reported(example_site, tmp_path):
    raw = '<html lang="en-US"><head></head><body>Caf\xe9 <div data-osm-placement="top-strip-promotion-badge"></div></body></html>'
    (tmp_path / "example_site" / "pages" / "latin1.html").write_bytes(raw.encode("latin-1"))
    report = build(example_site())
    assert (tmp_path / "_site" / "latin1.html").read_bytes() == raw.encode("latin-1")
    assert report.problems == [
        "latin1.html: not UTF-8 text (invalid byte at offset 41), so it was copied without filling "
        "placeholders; save the page as UTF-8"
    ]


def test_no_store_answers_expire_at_once(example_site, tmp_path):
    with start_emulator(EmulatorSettings(port=0, cache_control="no-store")) as uncached:
        report = build(example_site(klarna={"base_url": uncached.base_url}))
    manifest = json.loads((tmp_path / "_site" / "osm" / "manifest.json").read_text(encoding="utf-8"))
    entry = manifest["fragments"]["credit-promotion-badge/en-US/5500"]
    assert entry["status"] == "ok"
    assert entry["expires_at"] is not None
    assert report.fetch.requests_sent == report.distinct_requests
