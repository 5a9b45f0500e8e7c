"""A scriptable OSM API stand-in on 127.0.0.1 for the fetch tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from osm_build.fetch import OsmRequest

CLIENT_ID = "6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11"

OK_BODY = {
    "content": {
        "nodes": [
            {"type": "TEXT", "name": "TEXT_MAIN", "value": "Pay in 4 interest-free payments of $25.00."},
            {"type": "ACTION", "name": "ACTION_LEARN_MORE", "label": "Learn more", "url": "https://assets.test/more"},
        ]
    },
    "impression_url": "https://evt.test/v1/impression?id=1",
}


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes | dict | str = field(default_factory=lambda: OK_BODY)
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    """One request the server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


class ScriptedServer:
    """An HTTP server whose responses come from a queue, then from ``default``.

    ``responder`` may replace both: it gets each received request and returns a Reply.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.queue: list[Reply] = []
        self.default = Reply(headers={"cache-control": "max-age=60"})
        self.responder: Callable[[Received], Reply] | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def count(self) -> int:
        return len(self.received)

    def reply(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            if self.responder is not None:
                return self.responder(received)
            return self.queue.pop(0) if self.queue else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                headers = {name.lower(): value for name, value in self.headers.items()}
                reply = server._next(Received(parts.path, query, headers))
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.status not in (204, 304):
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if reply.status not in (204, 304):
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        return Handler

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def badge(amount: int = 12000, locale: str = "en-US") -> OsmRequest:
    return OsmRequest("credit-promotion-badge", locale, amount)
