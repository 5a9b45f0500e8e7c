"""Exceptions raised by osm-build.

Every error a user can cause derives from ``OsmBuildError``, a ``click.ClickException``, so the
CLI prints ``Error: <message>`` without a traceback and exits 1::

    OsmBuildError
    ├── ConfigError          site_config.yaml is invalid (all problems at once)
    ├── CatalogError         the catalog export cannot be read at all
    ├── FetchError           the OSM API failed in a way that stops the fetch stage
    │   └── AccessDeniedError    HTTP 403: API access off for the client id, or no User-Agent
    ├── RenderError          a template failed to load or render
    └── PublishError         the output could not be written or swapped in

Problems with single catalog rows or single API answers are not exceptions: they are recorded
in the build report and the build goes on.
"""

from __future__ import annotations

import click


class OsmBuildError(click.ClickException):
    """Base class for errors that end a command with a message for the user."""


class ConfigError(OsmBuildError):
    """Raised when site_config.yaml cannot be loaded or fails validation."""

    def __init__(self, problems: list[str], source: str = "site_config.yaml") -> None:
        self.problems = problems
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{source} has {count} {noun}:\n{lines}")


class CatalogError(OsmBuildError):
    """Raised when a catalog export cannot be opened or its format is not recognised."""


class FetchError(OsmBuildError):
    """Raised when the fetch stage cannot go on (for example every request fails the same way)."""


class AccessDeniedError(FetchError):
    """Raised on HTTP 403 from the OSM API, which no retry can fix."""


class RenderError(OsmBuildError):
    """Raised when a template cannot be found, parsed or rendered."""


class PublishError(OsmBuildError):
    """Raised when the output directory cannot be staged or swapped in."""
