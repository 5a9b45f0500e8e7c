"""Counters of the emulator, the oracle of tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

LOG_LENGTH = 10_000


class EmulatorStats:
    """Thread-safe counts of API requests, responses by status and impressions.

    The app updates it from the server's event loop while tests read it from other threads, so
    every access holds a lock. The logs keep the last ``LOG_LENGTH`` entries.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._impressions = 0
        self._by_status: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._requests_log: deque[dict[str, Any]] = deque(maxlen=LOG_LENGTH)
        self._impressions_log: deque[dict[str, Any]] = deque(maxlen=LOG_LENGTH)

    def record_request(
        self,
        *,
        placement_key: str | None,
        locale: str | None,
        purchase_amount: int | str | None,
        status: str,
        fault: str | None = None,
    ) -> None:
        """Count one ``/messaging/*`` request and its response.

        Args:
            placement_key: The query value, or None when it is missing.
            locale: The query value, or None when it is missing.
            purchase_amount: The amount as an int when it is one, else the raw value or None.
            status: The HTTP status as a string, or ``"timeout"`` for a request held open.
            fault: The injected fault (``fail``, ``throttle``, ``timeout``, ``malformed``,
                ``empty``), or None for a regular response.
        """
        entry = {
            "placement_key": placement_key,
            "locale": locale,
            "purchase_amount": purchase_amount,
            "status": status,
            "fault": fault,
        }
        with self._lock:
            self._requests += 1
            self._by_status[status] += 1
            if fault is not None:
                self._faults[fault] += 1
            self._requests_log.append(entry)

    def record_impression(self, url: str, user_agent: str | None, time: float) -> None:
        """Count one hit on an impression URL (``url`` is the path and query)."""
        with self._lock:
            self._impressions += 1
            self._impressions_log.append({"url": url, "user_agent": user_agent, "time": time})

    def snapshot(self) -> dict[str, Any]:
        """Return a JSON-ready copy of every counter, as served at ``/__emulator/stats``.

        ``time`` in ``impressions_log`` is in seconds since the Unix epoch.
        """
        with self._lock:
            return {
                "requests": self._requests,
                "impressions": self._impressions,
                "by_status": dict(self._by_status),
                "faults": dict(self._faults),
                "requests_log": list(self._requests_log),
                "impressions_log": list(self._impressions_log),
            }

    def reset(self) -> None:
        """Set every counter to zero and empty both logs."""
        with self._lock:
            self._requests = 0
            self._impressions = 0
            self._by_status.clear()
            self._faults.clear()
            self._requests_log.clear()
            self._impressions_log.clear()
