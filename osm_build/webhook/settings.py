"""The ``webhooks`` section of site_config.yaml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from osm_build.errors import OsmBuildError
from osm_build.schema import Section

SourceType = Literal["shopify", "contentful", "sanity", "standard", "hmac", "token"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_JOURNAL = Path(".osm-cache/webhooks.sqlite")
DEFAULT_TOKEN_HEADER = "Authorization"


class WebhookSource(Section):
    """One sender of webhooks, served at ``POST /hooks/<name>``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="Path segment of the hook URL.")
    type: SourceType
    secret_env: str = Field(description="Environment variable that contains the signing secret or token.")
    secret_env_previous: str | None = Field(
        default=None,
        description="Environment variable with the previous secret, accepted too while a secret is rotated.",
    )
    header: str | None = Field(
        default=None,
        description="hmac: header with the signature (required). token: header with the token "
        "(default Authorization, as 'Bearer <token>').",
    )
    id_header: str | None = Field(
        default=None,
        description="hmac and token: header with a unique delivery id, used to drop repeated deliveries.",
    )
    product_field: str | None = Field(
        default=None,
        description="contentful and sanity: dotted path to the product id in the entry, such as "
        "fields.productId.en-US; default: the entry id (sys.id or _id).",
    )
    currency: str | None = Field(
        default=None,
        description="shopify: ISO 4217 currency of the variant prices (the shop currency); "
        "default: catalog.currency.",
    )

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @model_validator(mode="after")
    def _require_hmac_header(self) -> "WebhookSource":
        if self.type == "hmac" and not self.header:
            raise ValueError(
                f"source {self.name!r} has type hmac but no header; set header to the name of the "
                "header that carries the signature, such as X-Signature"
            )
        return self

    @property
    def token_header(self) -> str:
        return self.header or DEFAULT_TOKEN_HEADER


class WebhookSettings(Section):
    """Settings of ``osm-build serve``: the sources, the journal, the build timing and the publish command."""

    sources: tuple[WebhookSource, ...] = ()
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1, description="Largest accepted body, in bytes.")
    debounce_seconds: float = Field(
        default=0.5, ge=0, description="Quiet time after the last delivery before a build starts, in seconds."
    )
    max_delay_seconds: float = Field(
        default=10.0, gt=0, description="Maximum time a delivery waits for the quiet time, in seconds."
    )
    timestamp_tolerance_seconds: int = Field(
        default=300, ge=1, description="Signed timestamps further than this from now are rejected, in seconds."
    )
    journal: Path = Field(default=DEFAULT_JOURNAL, description="SQLite file that stores accepted deliveries.")
    publish_command: str | None = Field(
        default=None, description="Shell command run after each successful build, such as an upload."
    )

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: tuple[WebhookSource, ...]) -> tuple[WebhookSource, ...]:
        names = [source.name for source in sources]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"source name {name!r} is listed twice; give each source its own name")
        return sources

    def source(self, name: str) -> WebhookSource | None:
        """Return the source served at ``/hooks/<name>``, or None."""
        for source in self.sources:
            if source.name == name:
                return source
        return None


def read_secrets(settings: WebhookSettings) -> dict[str, tuple[bytes, ...]]:
    """Read every source's current and previous secret from the environment.

    Returns:
        The secrets of each source by name, the current one first.

    Raises:
        OsmBuildError: naming every environment variable that is missing or empty.
    """
    missing: list[str] = []
    secrets: dict[str, tuple[bytes, ...]] = {}
    for source in settings.sources:
        values = []
        for variable in (source.secret_env, source.secret_env_previous):
            if variable is None:
                continue
            value = os.environ.get(variable)
            if not value:
                missing.append(f"{variable} (webhooks source {source.name!r})")
                continue
            values.append(value.encode("utf-8"))
        secrets[source.name] = tuple(values)
    if missing:
        raise OsmBuildError(
            "These environment variables with webhook secrets are not set or empty: "
            + ", ".join(missing)
            + ". Export them before `osm-build serve`."
        )
    return secrets
