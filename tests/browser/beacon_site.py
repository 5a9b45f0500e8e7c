"""Build a small site with osm-build, serve it on 127.0.0.1 and launch Chromium for the beacon tests.

The site copies the example site's pages, adds the test pages below, and reads a generic CSV
catalog with the example's products plus one product (99) whose cheaper variant is outside the
emulator's financing range, so its template is ``data-osm-empty``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
CLIENT_ID = "6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11"
CSP = "script-src 'self'"

CATALOG = """\
id,variant,title,price
45,79,Hoodie,42.00
45,80,Hoodie,45.00
45,81,Hoodie,45.00
45,90,Hoodie,45.00
62,,Sunglasses,90.00
58,,Belt,55.00
44,76,V-Neck T-Shirt,20.00
44,77,V-Neck T-Shirt,20.00
44,78,V-Neck T-Shirt,15.00
99,991,Test jacket,50.00
99,992,Test jacket,20.00
99,993,Test jacket,60.00
"""

# Product 99: variant 992 ($20.00) is below the emulator's USD range, so the API has no message
# for it. Option 994 names an amount with no template, and option 995 is a variant id that no
# template lists. The second placement looks variants up in data-osm-variants (no data-osm-amount).
VARIANTS_PAGE = """\
<!doctype html>
<html lang="en-US">
<head>
  <meta charset="utf-8">
  <title>Variants test</title>
</head>
<body>
  <select id="size">
    <option value="991" data-osm-amount="5000">S - $50.00</option>
    <option value="992" data-osm-amount="2000">M - $20.00</option>
    <option value="994" data-osm-amount="7777">L - $77.77</option>
  </select>
  <div id="by-amount" data-osm-placement="credit-promotion-badge" data-osm-product="99" data-osm-watch="#size"></div>
  <select id="colour">
    <option value="991">Red</option>
    <option value="993">Blue</option>
    <option value="995">Gold</option>
  </select>
  <div id="by-variant" data-osm-placement="credit-promotion-badge" data-osm-product="99" data-osm-watch="#colour"></div>
  <p id="price" data-osm-amount="4200">$42.00</p>
  <div id="by-attribute" data-osm-placement="credit-promotion-badge" data-osm-product="45" data-osm-watch="#price"></div>
</body>
</html>
"""


def build_site(root: Path, emulator_url: str, *, mode: str = "viewable", count_bfcache: bool = False) -> Path:
    """Write a site with its config under ``root``, build it with the CLI and return the output folder."""
    pages = root / "pages"
    shutil.copytree(REPOSITORY / "example_site" / "pages", pages)
    (pages / "test").mkdir()
    (pages / "test" / "variants.html").write_text(VARIANTS_PAGE, encoding="utf-8")
    (root / "catalog.csv").write_text(CATALOG, encoding="utf-8")

    config = yaml.safe_load((REPOSITORY / "site_config.yaml").read_text(encoding="utf-8"))
    config["klarna"].update(environment="emulator", base_url=emulator_url, client_id=CLIENT_ID)
    config["catalog"] = {
        "path": "catalog.csv", "format": "csv", "currency": "USD",
        "mapping": {"product_id": "id", "variant_id": "variant", "title": "title", "price": "price"},
    }
    config["site"] = {"pages": "pages"}
    config["output"] = {"directory": "_site"}
    config["cache"] = {"directory": ".osm-cache"}
    config["beacon"] = {"mode": mode, "count_back_forward_cache": count_bfcache}
    config_path = root / "site_config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "-m", "osm_build", "build", "-c", str(config_path)],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"osm-build build failed:\n{result.stdout}\n{result.stderr}"
    return root / "_site"


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site with a strict script CSP, and answers /favicon.ico with 204 so no 404 is logged."""

    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class SiteServer:
    """A threaded static file server on 127.0.0.1 with a free port."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_SiteHandler, directory=str(directory))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, page: str) -> str:
        return f"{self.base_url}/{page}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def launch_chromium(playwright: Any) -> Any:
    """Launch Debian's Chromium headless, with the fresh user-data dir that playwright gives each launch."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def chromium_missing_reason() -> str | None:
    """Return why the browser tests cannot run here, or None when they can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing; install it with `apt-get install -y chromium`"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing; run pip install -e '.[test]'"
    return None


def impression_urls(stats: Callable[[], dict[str, Any]]) -> list[str]:
    """Return the path and query of each impression the emulator counted, oldest first."""
    return [entry["url"] for entry in stats()["impressions_log"]]


def wait_for_impressions(stats: Callable[[], dict[str, Any]], count: int, timeout: float = 4.0) -> list[str]:
    """Poll the emulator until it counted ``count`` impressions and return their URLs.

    Fails as soon as it counted more, or when ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        urls = impression_urls(stats)
        assert len(urls) <= count, f"expected {count} impressions, got {len(urls)}: {urls}"
        if len(urls) == count:
            return urls
        assert time.monotonic() < deadline, f"expected {count} impressions within {timeout}s, got {len(urls)}: {urls}"
        time.sleep(0.05)


def screenshot_product_page(output: Path) -> None:
    """Build the test site and save a screenshot of products/hoodie.html to ``output``."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from osm_build.emulator.server import start_emulator
    from osm_build.emulator.settings import EmulatorSettings

    with tempfile.TemporaryDirectory() as scratch, start_emulator(EmulatorSettings(port=0)) as emulator:
        server = SiteServer(build_site(Path(scratch), emulator.base_url))
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 800, "height": 360})
                page.goto(server.url("products/hoodie.html"))
                page.wait_for_selector(".osm-message img")
                page.screenshot(path=str(output))
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    screenshot_product_page(Path(sys.argv[1] if len(sys.argv) > 1 else REPOSITORY / "docs" / "product-page.png"))
