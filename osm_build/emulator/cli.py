"""The ``osm-build emulator`` command."""

from __future__ import annotations

import logging
from typing import Any

import click
from pydantic import ValidationError

from osm_build.emulator.server import serve_emulator
from osm_build.emulator.settings import DEFAULT_API_KEY_ENV, DEFAULT_CLIENT_IDS, EmulatorSettings

RATE = click.FloatRange(0, 1)
OPTION_NAMES = {"max_age_seconds": "--max-age", "client_ids": "--client-id"}


@click.command(name="emulator")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Keep it a loopback address.",
)
@click.option(
    "--port",
    default=8089,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free port.",
)
@click.option(
    "--client-id",
    "client_ids",
    multiple=True,
    help="Client id that has OSM API access; repeat for several. Others get 403. "
    f"[default: {', '.join(DEFAULT_CLIENT_IDS)}]",
)
@click.option(
    "--api-key-env",
    default=DEFAULT_API_KEY_ENV,
    show_default=True,
    metavar="NAME",
    help="Environment variable with the comma-separated API keys that /messaging/v4 accepts as the "
    "Basic auth user name or password. Keys are never taken from the command line.",
)
@click.option(
    "--public-base-url",
    metavar="URL",
    help="Base URL for badge, learn-more and impression links. [default: the request's base URL]",
)
@click.option(
    "--max-age",
    "max_age_seconds",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="max-age of the Cache-Control header, in seconds. [default: 3600]",
)
@click.option(
    "--cache-control",
    metavar="VALUE",
    help="Cache-Control header sent verbatim instead of max-age, e.g. 'no-store'.",
)
@click.option(
    "--no-offer-answer",
    type=click.Choice(["empty-nodes", "no-content", "empty-body"]),
    help="Response for an amount outside the currency's financing range: 200 without a TEXT_MAIN "
    "node, 204, or 200 with an empty body. [default: empty-nodes]",
)
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    metavar="MS",
    help="Delay added before every API response, in milliseconds. [default: 0]",
)
@click.option(
    "--fail-rate",
    type=RATE,
    metavar="F",
    help="Share of API requests (0-1) that get 500 or 503. [default: 0]",
)
@click.option(
    "--throttle-rate",
    type=RATE,
    metavar="F",
    help="Share of API requests (0-1) that get 429 with Retry-After. [default: 0]",
)
@click.option(
    "--retry-after",
    metavar="VALUE",
    help="Retry-After of 429 responses: seconds or an HTTP-date. [default: 1]",
)
@click.option(
    "--timeout-rate",
    type=RATE,
    metavar="F",
    help="Share of API requests (0-1) held open without a response. [default: 0]",
)
@click.option(
    "--hang-seconds",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="How long such a request is held open, in seconds. [default: 300]",
)
@click.option(
    "--malformed-rate",
    type=RATE,
    metavar="F",
    help="Share of API requests (0-1) that get 200 with a body that is not the documented JSON. "
    "[default: 0]",
)
@click.option(
    "--empty-rate",
    type=RATE,
    metavar="F",
    help="Share of API requests (0-1) that get 204 or 200 with no nodes. [default: 0]",
)
@click.option(
    "--seed",
    type=int,
    help="Seed of the random fault draws, for reproducible runs. [default: random]",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning"]),
    default="info",
    show_default=True,
    help="Log level when no logging is configured yet; debug logs each rejected request.",
)
def emulator_command(log_level: str, **options: Any) -> None:
    """Serve an emulator of the Klarna OSM API for local builds and tests.

    It serves /messaging/v3 and /messaging/v4 like the OSM API, with messages formatted for the
    locale, and can inject latency and faults. It is not Klarna, and its messages are not offers.
    Counters are at /__emulator/stats; POST /__emulator/reset zeroes them.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )

    explicit_options = {name: value for name, value in options.items() if value not in (None, ())}
    try:
        settings = EmulatorSettings(**explicit_options)
    except ValidationError as error:
        problems = [
            f"{_option_name(item['loc'])}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors()
        ]
        raise click.UsageError("; ".join(problems)) from None

    def announce(base_url: str) -> None:
        click.echo(f"osm-build OSM API emulator (not Klarna) listening on {base_url}")

    serve_emulator(settings, on_started=announce)


def _option_name(location: tuple[Any, ...]) -> str:
    """Return the option behind a settings field, for example ``--max-age`` for max_age_seconds."""
    if not location:
        return "options"
    field = str(location[0])
    return OPTION_NAMES.get(field, "--" + field.replace("_", "-"))


if __name__ == "__main__":
    emulator_command()
