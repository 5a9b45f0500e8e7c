"""Run the emulator with uvicorn, in a background thread (builds, tests) or in the foreground."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn

from osm_build.emulator.app import create_app
from osm_build.emulator.settings import EmulatorSettings
from osm_build.errors import OsmBuildError

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_SECONDS = 10.0
# How long a stop waits for open requests (a request held open by timeout_rate never ends).
GRACEFUL_SHUTDOWN_SECONDS = 2


class EmulatorStartError(OsmBuildError):
    """Raised when the emulator cannot bind its address or does not start in time."""


class RunningEmulator:
    """An emulator serving from a daemon thread; a context manager that stops it on exit."""

    def __init__(
        self, server: uvicorn.Server, thread: threading.Thread, base_url: str, app: Any
    ) -> None:
        self._server = server
        self._thread = thread
        self._app = app
        self.base_url = base_url

    def stats(self) -> dict[str, Any]:
        """Return the counters, the same JSON as ``GET /__emulator/stats``."""
        return self._app.state.stats.snapshot()

    def reset(self) -> None:
        """Zero the counters; unlike ``POST /__emulator/reset``, keep the fault draws going."""
        self._app.state.stats.reset()

    def stop(self) -> None:
        """Stop the server and wait for its thread; requests still held open are cancelled."""
        if not self._thread.is_alive():
            return
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=GRACEFUL_SHUTDOWN_SECONDS + 5)
        if self._thread.is_alive():
            logger.warning("The OSM API emulator at %s did not stop in time", self.base_url)
        else:
            logger.debug("Stopped the OSM API emulator at %s", self.base_url)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(settings: EmulatorSettings) -> RunningEmulator:
    """Start the emulator in a daemon thread and return once it accepts requests.

    Raises:
        EmulatorStartError: When the address cannot be bound or the server does not start
            within ``STARTUP_TIMEOUT_SECONDS``.
    """
    sock = _bind(settings.host, settings.port)
    base_url = _base_url(sock)
    app = create_app(settings)
    server = uvicorn.Server(_uvicorn_config(app))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="osm-emulator", daemon=True
    )
    thread.start()

    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise EmulatorStartError(
                f"The OSM API emulator on {base_url} did not start within "
                f"{STARTUP_TIMEOUT_SECONDS:g} s; see the log above for the cause."
            )
        time.sleep(0.01)

    logger.info("OSM API emulator (not Klarna) is listening on %s", base_url)
    return RunningEmulator(server, thread, base_url, app)


def serve_emulator(
    settings: EmulatorSettings, *, on_started: Callable[[str], None] | None = None
) -> None:
    """Serve the emulator in the foreground until SIGINT or SIGTERM.

    Args:
        settings: How the emulator responds and where it binds.
        on_started: Called with the base URL once the address is bound, before serving starts,
            in place of the INFO log line that announces the URL.

    Raises:
        EmulatorStartError: When the address cannot be bound.
    """
    sock = _bind(settings.host, settings.port)
    base_url = _base_url(sock)
    server = uvicorn.Server(_uvicorn_config(create_app(settings)))
    if on_started is not None:
        on_started(base_url)
    else:
        logger.info("OSM API emulator (not Klarna) is listening on %s", base_url)
    server.run(sockets=[sock])
    logger.info("OSM API emulator on %s stopped", base_url)


def _uvicorn_config(app: Any) -> uvicorn.Config:
    # log_config=None leaves logging handlers to the application; uvicorn only sets its levels.
    return uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _bind(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket to exactly ``host``:``port``; port 0 picks a free port."""
    if not _is_loopback(host):
        logger.warning(
            "The OSM API emulator binds %s, which is not a loopback address, so other machines "
            "may reach it; use 127.0.0.1 unless that is intended",
            host,
        )
    sock: socket.socket | None = None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as error:
        if sock is not None:
            sock.close()
        raise EmulatorStartError(
            f"The OSM API emulator cannot listen on {host}:{port}: {error}. Choose another "
            "--port, or 0 for a free one."
        ) from error
    sock.setblocking(False)
    return sock


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
