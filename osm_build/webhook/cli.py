"""The ``osm-build serve`` and ``osm-build check`` commands."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
from pathlib import Path

import click
import uvicorn

from osm_build.config import DEFAULT_CONFIG_NAME, LoadedConfig, load_config
from osm_build.errors import OsmBuildError
from osm_build.webhook.settings import WebhookSettings, read_secrets

logger = logging.getLogger(__name__)

# How long uvicorn waits for open requests at stop, in seconds.
GRACEFUL_SHUTDOWN_SECONDS = 5

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG_NAME, show_default=True, help="The site config file to use.",
)


@click.command("serve")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on; 0 picks a free one.")
def serve_command(config_path: Path, host: str, port: int) -> None:
    """Receive signed webhooks and rebuild the products they change.

    Serves POST /hooks/<name> for each source in the config's webhooks section and
    GET /healthz. Accepted deliveries are stored in a SQLite journal before the
    response, so a restart loses none.
    """
    from osm_build.webhook.app import create_app
    from osm_build.webhook.journal import Journal
    from osm_build.webhook.verify import prepare_secrets
    from osm_build.webhook.worker import BuildWorker

    _ensure_logging()
    loaded = _load(config_path)
    webhooks = webhook_settings(loaded)
    if not webhooks.sources:
        raise OsmBuildError(f"{config_path}: webhooks.sources is empty; add at least one source to serve.")
    raw_secrets = read_secrets(webhooks)
    keys = {source.name: prepare_secrets(source, raw_secrets[source.name]) for source in webhooks.sources}

    journal = Journal(loaded.resolve(webhooks.journal))
    worker = BuildWorker(loaded, webhooks, journal)
    app = create_app(webhooks, keys, journal, worker)
    sock = _bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(
        app, log_config=None, log_level="warning", access_log=False, lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    ))
    sources = ", ".join(f"/hooks/{source.name} ({source.type})" for source in webhooks.sources)
    logger.info("Serving webhooks on http://%s:%d: %s", bound_host, bound_port, sources)
    try:
        server.run(sockets=[sock])
    finally:
        journal.close()
        logger.info("Stopped serving webhooks on http://%s:%d", bound_host, bound_port)


@click.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def check_command(config_path: Path, as_json: bool) -> None:
    """Exit 1 when the published site has expired fragments or due price changes.

    For cron or CI: rebuild when it fails. Reads only the published manifest.
    """
    from osm_build.check import check_published_site

    result = check_published_site(_load(config_path))
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        for entry in result.stale:
            label = "expired" if entry.kind == "expired" else "price change"
            click.echo(f"{label:13} {entry.key}  (due {entry.due})")
        click.echo(result.summary())
    if result.is_stale:
        raise SystemExit(1)


def webhook_settings(loaded: LoadedConfig) -> WebhookSettings:
    """Return the config's ``webhooks`` section, validated.

    Raises:
        OsmBuildError: when the section is missing or invalid.
    """
    from pydantic import ValidationError

    from osm_build.schema import format_key_path

    section = getattr(loaded.settings, "webhooks", None)
    if isinstance(section, WebhookSettings):
        return section
    if section is None:
        raise OsmBuildError(f"{loaded.path} has no webhooks section; add webhooks.sources to use `osm-build serve`.")
    try:
        return WebhookSettings.model_validate(section)
    except ValidationError as error:
        problems = [
            f"webhooks.{format_key_path(tuple(item['loc']))}: {item['msg'].removeprefix('Value error, ')}"
            for item in error.errors(include_url=False)
        ]
        raise OsmBuildError(f"{loaded.path} has an invalid webhooks section:\n  - " + "\n  - ".join(problems)) from None


def _load(config_path: Path) -> LoadedConfig:
    loaded = load_config(config_path)
    for warning in loaded.warnings:
        logger.warning("%s: %s", config_path, warning)
    return loaded


def _ensure_logging() -> None:
    """Install the CLI's log handler when the command runs outside the ``osm-build`` group."""
    if not logging.getLogger("osm_build").handlers:
        from osm_build.cli import setup_logging

        setup_logging(0, False)


def _bind(host: str, port: int) -> socket.socket:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        logger.warning("Listening on %s, which is not a loopback address: other machines can send "
                       "webhooks to it directly. Put a TLS proxy in front of it.", host)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        raise OsmBuildError(f"Cannot listen on {host}:{port}: {error}. Choose another --port.") from error
    sock.setblocking(False)
    return sock
