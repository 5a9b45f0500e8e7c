"""A small site in tmp_path, an OSM emulator, and ``osm-build serve`` in a subprocess on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from osm_build.build import BuildOptions, run_build
from osm_build.config import load_config
from osm_build.emulator.server import RunningEmulator, start_emulator
from osm_build.emulator.settings import EmulatorSettings

REPOSITORY = Path(__file__).resolve().parents[2]
SHOPIFY_SECRET = "shopify-test-secret"
STANDARD_SECRET = "whsec_" + base64.b64encode(b"standard-test-key-0123456789").decode()
TOKEN_SECRET = "token-test-secret"
SECRETS_ENV = {
    "TEST_SHOPIFY_SECRET": SHOPIFY_SECRET,
    "TEST_STANDARD_SECRET": STANDARD_SECRET,
    "TEST_TOKEN_SECRET": TOKEN_SECRET,
}
BELT_PAGE = "products/belt.html"


def make_site(root: Path, emulator_url: str, **webhooks: Any) -> Path:
    """Copy the example site into ``root`` with klarna.base_url at the emulator; return the config path."""
    shutil.copytree(REPOSITORY / "example_site", root / "example_site")
    config = yaml.safe_load((REPOSITORY / "site_config.yaml").read_text(encoding="utf-8"))
    config["klarna"]["base_url"] = emulator_url
    config["klarna"]["requests_per_second"] = 1000
    config["cache"] = {"directory": ".osm-cache"}
    config["webhooks"] = {
        "sources": [
            {"name": "shop", "type": "shopify", "secret_env": "TEST_SHOPIFY_SECRET"},
            {"name": "std", "type": "standard", "secret_env": "TEST_STANDARD_SECRET"},
            {"name": "cms", "type": "token", "secret_env": "TEST_TOKEN_SECRET", "id_header": "X-Request-Id"},
        ],
        "debounce_seconds": 0.3,
        "max_body_bytes": 4096,
        "journal": ".osm-cache/webhooks.sqlite",
        **webhooks,
    }
    path = root / "site_config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def point_at(config_path: Path, emulator_url: str) -> None:
    """Send the site's later builds to another emulator."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["klarna"]["base_url"] = emulator_url
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")


def build_site(config_path: Path) -> None:
    run_build(load_config(config_path), BuildOptions())


def published_page(config_path: Path, page: str = BELT_PAGE) -> str:
    return (config_path.parent / "_site" / page).read_text(encoding="utf-8")


def shopify_product(price: str, product_id: int = 58) -> dict[str, Any]:
    return {
        "id": product_id, "handle": "woo-belt", "title": "Belt",
        "variants": [{"id": 5801, "sku": "woo-belt", "title": "Default Title", "price": price}],
    }


def shopify_headers(body: bytes, delivery_id: str, secret: str = SHOPIFY_SECRET, **extra: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Webhook-Id": delivery_id,
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """``python -m osm_build.webhook serve`` in a subprocess, with its log in a file."""

    def __init__(self, config_path: Path, env: dict[str, str] | None = None) -> None:
        self.config_path = config_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = config_path.parent / f"serve-{self.port}.log"
        environment = {**os.environ, **SECRETS_ENV, **(env or {})}
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "osm_build.webhook", "serve", "-c", str(config_path), "--port", str(self.port)],
            cwd=config_path.parent, env=environment, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def wait_ready(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"the server did not start in {timeout} s:\n{self.log()}")

    def health(self) -> dict[str, Any]:
        return self.client.get("/healthz").json()

    def wait_idle(self, timeout: float = 30) -> dict[str, Any]:
        """Wait until the queue is empty and no build is due; return the last health response."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            health = self.health()
            if health["queue"] == 0:
                return health
            time.sleep(0.1)
        raise AssertionError(f"the queue did not empty in {timeout} s: {self.health()}\n{self.log()}")

    def post(self, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(f"/hooks/{name}", content=body, headers=headers)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., RunningEmulator]]:
    running: list[RunningEmulator] = []

    def start(**settings: Any) -> RunningEmulator:
        emulator = start_emulator(EmulatorSettings(port=0, **settings))
        running.append(emulator)
        return emulator

    yield start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def server_factory() -> Iterator[Callable[..., ServerProcess]]:
    started: list[ServerProcess] = []

    def start(config_path: Path, env: dict[str, str] | None = None) -> ServerProcess:
        server = ServerProcess(config_path, env)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


def json_body(document: Any) -> bytes:
    return json.dumps(document).encode()
