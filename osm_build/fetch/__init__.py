"""The fetch stage: one OSM API response for each distinct (placement, locale, amount).

``fetch_answers`` is the entry point; ``osm_build.fetch.stage`` documents the order of its
layers (cache, retry, rate limit and concurrency, network).
"""

from osm_build.fetch.models import FetchPolicy, FetchReport, OsmAnswer, OsmRequest
from osm_build.fetch.retry import RetryPolicy
from osm_build.fetch.stage import fetch_answers, fetch_answers_sync
from osm_build.fetch.urls import resolve_base_url

__all__ = [
    "FetchPolicy",
    "FetchReport",
    "OsmAnswer",
    "OsmRequest",
    "RetryPolicy",
    "fetch_answers",
    "fetch_answers_sync",
    "resolve_base_url",
]
