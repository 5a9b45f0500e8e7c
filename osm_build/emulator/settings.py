"""The ``emulator`` section of site_config.yaml and the options of ``osm-build emulator``."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Literal

from pydantic import Field, field_validator, model_validator

from osm_build.schema import Section

DEFAULT_CLIENT_IDS = ("6d4e4f1c-0b0a-4b7e-9d58-0e6f3c2a7b11",)
DEFAULT_API_KEY_ENV = "OSM_EMULATOR_API_KEYS"

NoOfferAnswer = Literal["empty-nodes", "no-content", "empty-body"]

FAULT_RATE_FIELDS = ("fail_rate", "throttle_rate", "timeout_rate", "malformed_rate", "empty_rate")


class EmulatorSettings(Section):
    """Behaviour of the emulated OSM API.

    The fault rates are shares of API requests. One random draw per request picks at most one
    fault, so the rates must add up to at most 1.
    """

    host: str = Field(
        default="127.0.0.1", description="Address to bind; keep it a loopback address."
    )
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port.")
    public_base_url: str | None = Field(
        default=None,
        description="Base URL for the badge, learn-more and impression links in responses. "
        "Default: the base URL of each request.",
    )
    client_ids: tuple[str, ...] = Field(
        default=DEFAULT_CLIENT_IDS,
        description="Client ids that have OSM API access; others get 403.",
    )
    api_key_env: str = Field(
        default=DEFAULT_API_KEY_ENV,
        description="Environment variable with the comma-separated API keys accepted on v4.",
    )
    max_age_seconds: int = Field(default=3600, ge=0)
    cache_control: str | None = Field(
        default=None, description="A fixed Cache-Control value that replaces max-age."
    )
    no_offer_answer: NoOfferAnswer = Field(
        default="empty-nodes",
        description="Response for an amount outside the currency's financing range: 200 with no "
        "TEXT_MAIN node, 204, or 200 with an empty body.",
    )
    latency_ms: float = Field(
        default=0, ge=0, description="Delay before every API response, in ms."
    )
    fail_rate: float = Field(default=0, ge=0, le=1, description="Share of 500/503 responses.")
    throttle_rate: float = Field(default=0, ge=0, le=1, description="Share of 429 responses.")
    retry_after: str = Field(
        default="1", description="Retry-After value of 429 responses: seconds or an HTTP-date."
    )
    timeout_rate: float = Field(
        default=0, ge=0, le=1, description="Share of requests held open without a response."
    )
    hang_seconds: float = Field(
        default=300, gt=0, description="How long a request picked by timeout_rate is held open."
    )
    malformed_rate: float = Field(
        default=0,
        ge=0,
        le=1,
        description="Share of 200 responses whose body is not the documented JSON.",
    )
    empty_rate: float = Field(
        default=0, ge=0, le=1, description="Share of 204 responses and 200 responses with no nodes."
    )
    seed: int | None = Field(
        default=None, description="Seed of the fault draws, for reproducible runs."
    )

    @field_validator("retry_after")
    @classmethod
    def _check_retry_after(cls, value: str) -> str:
        if value.isdigit():
            return value
        try:
            parsedate_to_datetime(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{value!r} is neither a number of seconds nor an HTTP-date such as "
                "'Wed, 21 Oct 2015 07:28:00 GMT'"
            ) from None
        return value

    @field_validator("public_base_url")
    @classmethod
    def _check_public_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(
                f"{value!r} is not an http(s) URL; use for example http://127.0.0.1:8089"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_rate_sum(self) -> EmulatorSettings:
        total = sum(getattr(self, name) for name in FAULT_RATE_FIELDS)
        # The tolerance absorbs float rounding, as in 0.1 + 0.2 + 0.7.
        if total > 1 + 1e-9:
            rates = ", ".join(f"{name}={getattr(self, name)}" for name in FAULT_RATE_FIELDS)
            raise ValueError(f"the fault rates add up to {total:g}, more than 1 ({rates})")
        return self
