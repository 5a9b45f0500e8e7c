"""Load and validate site_config.yaml.

The schema is a tree of pydantic models. Loading collects every problem in one pass (validation
errors and unset ``${ENV_VAR}`` references) and raises one ``ConfigError`` that lists each with its
key path, its value and its line in the file. Keys the schema does not know become warnings, which
``--strict`` turns into a failing exit.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from osm_build import __version__
from osm_build.catalog.settings import CatalogSettings, MarketSettings
from osm_build.emulator.settings import EmulatorSettings
from osm_build.errors import ConfigError
from osm_build.schema import Section, format_key_path, iter_unknown_keys
from osm_build.webhook.settings import WebhookSettings
from osm_build.yamlsource import expand_environment, load_yaml

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_NAME = "site_config.yaml"
PLACEMENT_KEYS = ("credit-promotion-badge", "top-strip-promotion-badge")


class RetrySettings(Section):
    """Retry policy for timeouts, connection errors, 429 and 5xx responses."""

    max_attempts: int = Field(default=4, ge=1, le=20, description="Attempts per request, the first included.")
    backoff_seconds: float = Field(default=0.5, ge=0, description="The first wait in seconds; each later wait doubles.")
    backoff_jitter: float = Field(default=0.5, ge=0, le=1, description="The random share of each wait, from 0 to 1.")
    max_wait_seconds: float = Field(default=10.0, ge=0, description="The maximum single wait in seconds, Retry-After included.")
    max_total_wait_seconds: float = Field(default=30.0, ge=0, description="The maximum total wait per request in seconds.")


class KlarnaSettings(Section):
    """Connection settings for the OSM API."""

    environment: Literal["emulator", "playground", "production"] = "emulator"
    region: Literal["eu", "na", "oc"] = "eu"
    api_version: Literal["v3", "v4"] = "v3"
    client_id: str
    api_key_env: str = Field(
        default="KLARNA_API_KEY",
        description="Name of the environment variable that contains the v4 API key.",
    )
    user_agent: str = f"osm-build/{__version__}"
    base_url: str | None = Field(
        default=None, description="Overrides the API host, for a proxy or a remote emulator."
    )
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    concurrency: int = Field(default=8, ge=1, le=256)
    requests_per_second: float = Field(
        default=25.0, gt=0, description="Below Klarna's general playground limit of 50 requests/s."
    )
    retry: RetrySettings = RetrySettings()

    @field_validator("user_agent")
    @classmethod
    def _require_user_agent(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty, because the OSM API responds with 403 without a User-Agent")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL; use for example http://127.0.0.1:8080")
        return value.rstrip("/") if value else value


class PlacementSettings(Section):
    """One placement to render."""

    key: Literal["credit-promotion-badge", "top-strip-promotion-badge"]
    template: str | None = Field(default=None, description="Template name; defaults to <key>.html.")

    @property
    def template_name(self) -> str:
        return self.template or f"{self.key}.html"

    @property
    def takes_amount(self) -> bool:
        return self.key == "credit-promotion-badge"


class SiteSettings(Section):
    """The static pages that receive fragments."""

    pages: Path
    page_patterns: tuple[str, ...] = ("**/*.html",)


class OutputSettings(Section):
    """Output folder and asset layout of the built site."""

    @field_validator("assets_path")
    @classmethod
    def _check_assets_path(cls, value: str) -> str:
        parts = value.replace("\\", "/").split("/")
        if not value or value.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(
                f"{value!r} must be a relative folder inside the output, such as osm or assets/osm"
            )
        return value

    directory: Path = Path("_site")
    assets_path: str = Field(default="osm", description="Folder in the output for fragments and the script.")
    product_fragments: bool = Field(
        default=True, description="Also write one fragment file per product, variant and market."
    )
    share_unchanged_folders: bool = Field(
        default=False,
        description="Incremental builds link unchanged folders of the last release instead of every "
        "file; the web server and deploy step must follow symbolic links.",
    )


class BeaconSettings(Section):
    """When the browser fires a placement's impression_url."""

    mode: Literal["viewable", "render"] = "viewable"
    count_back_forward_cache: bool = False


class CacheSettings(Section):
    """The persistent HTTP cache of OSM API responses."""

    directory: Path = Path(".osm-cache")
    enabled: bool = True
    max_stale_seconds: float | None = Field(
        default=None, ge=0,
        description="Seconds past expiry that a cached response may replace a failed request; unset: any age.",
    )


class SiteConfig(Section):
    """The whole of site_config.yaml."""

    klarna: KlarnaSettings
    emulator: EmulatorSettings = EmulatorSettings()
    markets: tuple[MarketSettings, ...] = Field(min_length=1)
    placements: tuple[PlacementSettings, ...] = Field(min_length=1)
    catalog: CatalogSettings
    site: SiteSettings | None = None
    output: OutputSettings = OutputSettings()
    templates: Path | None = Field(default=None, description="Site templates that override defaults by name.")
    beacon: BeaconSettings = BeaconSettings()
    cache: CacheSettings = CacheSettings()
    webhooks: WebhookSettings | None = None

    @field_validator("markets")
    @classmethod
    def _unique_locales(cls, markets: tuple[MarketSettings, ...]) -> tuple[MarketSettings, ...]:
        seen = set()
        for market in markets:
            if market.locale in seen:
                raise ValueError(f"locale {market.locale!r} is listed twice; list each market once")
            seen.add(market.locale)
        return markets

    @field_validator("placements")
    @classmethod
    def _unique_placements(cls, placements: tuple[PlacementSettings, ...]) -> tuple[PlacementSettings, ...]:
        keys = [placement.key for placement in placements]
        for key in keys:
            if keys.count(key) > 1:
                raise ValueError(f"placement {key!r} is listed twice; list each placement once")
        return placements


@dataclass
class LoadedConfig:
    """A validated config, the folder its relative paths start from, and its warnings."""

    settings: SiteConfig
    path: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, path: Path) -> Path:
        """Return ``path`` relative to the config file's folder unless it is absolute."""
        return path if path.is_absolute() else (self.base_dir / path)

    def api_key(self) -> str | None:
        """Return the v4 API key from the environment, or None when it is not set."""
        return os.environ.get(self.settings.klarna.api_key_env) or None


def load_config(path: Path) -> LoadedConfig:
    """Read, interpolate and validate a config file.

    Raises:
        ConfigError: listing every problem found, each with key path, value and line.
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            [f"file not found; create it or pass another with -c/--config PATH"], source
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"cannot be read: {error}"], source) from error

    try:
        document = load_yaml(text, source)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, " if mark else ""
        raise ConfigError([f"{where}invalid YAML: {getattr(error, 'problem', error)}"], source) from error
    if not isinstance(document.data, dict):
        raise ConfigError(["the top level must be a mapping of sections such as klarna: and markets:"], source)

    problems: list[tuple[int, str]] = []
    missing: list[tuple[tuple[Any, ...], str]] = []
    data = expand_environment(document.data, (), missing)
    for location, name in missing:
        message = f"environment variable {name} is not set; export it or write ${{{name}:-default}}"
        problems.append((document.line_of(location) or 0, _describe(document, location, message)))

    settings = None
    try:
        settings = SiteConfig.model_validate(data)
    except ValidationError as error:
        items = error.errors(include_url=False)
        for item in items:
            if _is_consequence(item, items):
                continue
            location = tuple(item["loc"])
            problems.append((document.line_of(location) or 0, _describe_validation_error(document, item)))
    if problems:
        raise ConfigError([message for _, message in sorted(problems, key=lambda problem: problem[0])], source)

    loaded = LoadedConfig(settings=settings, path=path.resolve())
    for location in iter_unknown_keys(settings):
        if _SECRET_KEY.search(str(location[-1])):
            message = ("secrets must not be written in the config file; put the value in an environment "
                       "variable and name it with klarna.api_key_env or webhooks.sources[].secret_env")
            problems.append((document.line_of(location) or 0, _describe(document, location, message)))
        else:
            loaded.warnings.append(_describe(document, location, "unknown key, ignored; check its spelling"))
    problems.extend((document.line_of(location) or 0, _describe(document, location, message))
                    for location, message in _check_paths(loaded))
    if problems:
        raise ConfigError([message for _, message in sorted(problems, key=lambda problem: problem[0])], source)
    return loaded


_SECRET_KEY = re.compile(r"(api_?key|secret|password|token)$", re.IGNORECASE)


def _check_paths(loaded: LoadedConfig) -> list[tuple[tuple[Any, ...], str]]:
    """Check that input folders exist and that the output cannot overwrite or swallow them."""
    settings = loaded.settings
    problems = []
    inputs: list[tuple[tuple[Any, ...], Path]] = [(("catalog", "path"), loaded.resolve(settings.catalog.path))]
    if settings.site is not None:
        pages = loaded.resolve(settings.site.pages)
        inputs.append((("site", "pages"), pages))
        if not pages.is_dir():
            problems.append((("site", "pages"), f"folder {str(pages)!r} not found; point it at the site's pages"))
    if settings.templates is not None:
        templates = loaded.resolve(settings.templates)
        inputs.append((("templates",), templates))
        if not templates.is_dir():
            problems.append((("templates",), f"folder {str(templates)!r} not found; create it or remove the key"))
    inputs.append((("cache", "directory"), loaded.resolve(settings.cache.directory)))

    output = loaded.resolve(settings.output.directory).resolve()
    # The output may sit inside the config file's folder, but must not be it or contain it.
    protected = [(("config file folder",), loaded.base_dir, False)] + [(location, path, True) for location, path in inputs]
    for location, path, no_output_inside in protected:
        path = path.resolve()
        if output == path or output in path.parents or (no_output_inside and path in output.parents):
            problems.append((
                ("output", "directory"),
                f"{str(output)!r} overlaps the {'.'.join(map(str, location))} {str(path)!r}; osm-build replaces "
                "the output folder on every build, so choose a folder of its own, such as _site",
            ))
            break
    return problems


def _is_consequence(item: dict[str, Any], items: list[dict[str, Any]]) -> bool:
    """Return whether ``item`` is a list that is too short only because its entries were invalid."""
    if item["type"] != "too_short":
        return False
    location = tuple(item["loc"])
    return any(len(other["loc"]) > len(location) and tuple(other["loc"][: len(location)]) == location
               for other in items)


def _describe_validation_error(document, item: dict[str, Any]) -> str:
    location = tuple(item["loc"])
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "missing":
        return _describe(document, location, "required key is missing")
    if item["type"].startswith("literal_error"):
        message = f"must be one of {item['ctx']['expected']}"
    # A failing model validator reports the model's own location; the value is then the mapping.
    value = item.get("input")
    already_in_message = isinstance(value, str) and repr(value) in message
    value_note = "" if isinstance(value, (dict, list)) or already_in_message else f" (got {value!r})"
    return _describe(document, location, f"{message}{value_note}")


def _describe(document, location: tuple[Any, ...], message: str) -> str:
    line = document.line_of(location)
    where = f"line {line}, " if line else ""
    return f"{where}{format_key_path(location)}: {message}"
