"""The values that go into and come out of the fetch stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from osm_build.fetch.retry import RetryPolicy

CACHE_STATUSES = ("miss", "hit", "revalidated", "stale")


@dataclass(frozen=True, slots=True, order=True)
class OsmRequest:
    """One distinct OSM API request: a placement in a locale, for one amount in minor units."""

    placement_key: str
    locale: str
    purchase_amount: int | None  # None for top-strip-promotion-badge


@dataclass
class OsmAnswer:
    """The outcome of one request, from the network or from the cache.

    ``status`` is the final HTTP status (a 304 resolves to the cached status, usually 200), or 0
    when no HTTP response arrived. ``body`` is the parsed 200 JSON body when it has the documented
    shape, else None, which for a successful response means "nothing to show".
    """

    request: OsmRequest
    status: int
    body: dict | None
    correlation_id: str | None
    fetched_at: datetime
    expires_at: datetime | None
    cache_status: str
    error: str | None = None

    @property
    def failed(self) -> bool:
        """True when the request failed; an ``OsmAnswer`` served stale is still usable but keeps its error."""
        return self.error is not None


@dataclass
class FetchReport:
    """Counters of one fetch stage, for the build report.

    ``requests_sent`` counts every HTTP request that went out, retries and revalidations included.
    """

    requests_sent: int = 0
    cache_hits: int = 0
    revalidated: int = 0
    retries: int = 0
    failed: int = 0
    stale_served: int = 0


@dataclass(frozen=True)
class FetchPolicy:
    """Tuning of the fetch stage that site_config.yaml does not set.

    Attributes:
        retry: when and how long to retry a request.
        max_stale_seconds: the maximum staleness, in seconds past expiry, of a cached response
            that replaces a failed request's response; None accepts any age. A
            ``stale-if-error`` window in the cached response's Cache-Control always allows
            serving it within that window.
        cache_write_batch: how many cache writes are collected before one SQLite commit.
        cache_namespace: replaces the base URL in cache keys when set. The embedded emulator
            listens on a new port in every build, so its responses are keyed by a fixed name.
    """

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_stale_seconds: float | None = None
    cache_write_batch: int = 200
    cache_namespace: str | None = None

    def __post_init__(self) -> None:
        if self.max_stale_seconds is not None and self.max_stale_seconds < 0:
            raise ValueError(f"max_stale_seconds must be 0 or more or None, got {self.max_stale_seconds!r}")
        if self.cache_write_batch < 1:
            raise ValueError(f"cache_write_batch must be at least 1, got {self.cache_write_batch!r}")
