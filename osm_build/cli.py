"""The ``osm-build`` command line."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from osm_build import __version__
from osm_build.config import DEFAULT_CONFIG_NAME, LoadedConfig, load_config
from osm_build.errors import OsmBuildError

logger = logging.getLogger("osm_build")

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG_NAME, show_default=True, help="The site config file to use.",
)
strict_option = click.option(
    "--strict", is_flag=True,
    help="Publish nothing and exit 1 on any warning: unknown config keys, catalog rows with errors, "
    "failed or stale requests, page problems.",
)


def setup_logging(verbose: int, quiet: bool) -> None:
    """Send log records to stderr: WARNING with --quiet, INFO by default, DEBUG with -v."""
    level = logging.INFO
    if quiet:
        level = logging.WARNING
    elif verbose:
        level = logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger("osm_build")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    # httpx logs every request at INFO; our fetch stage logs its own line per request.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def load_checked_config(config_path: Path, strict: bool) -> LoadedConfig:
    """Load the config, log its warnings, and fail on them with --strict."""
    loaded = load_config(config_path)
    for warning in loaded.warnings:
        logger.warning("%s: %s", config_path, warning)
    if strict and loaded.warnings:
        count = len(loaded.warnings)
        raise OsmBuildError(f"--strict: {config_path} has {count} warning{'s' * (count != 1)}; fix them or drop --strict")
    return loaded


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="osm-build")
@click.option("-v", "--verbose", count=True, help="Log debug details, such as each cache decision.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
def main(verbose: int, quiet: bool) -> None:
    """Render Klarna On-site Messaging into a static site at build time.

    osm-build reads a catalog export, fetches one OSM placement per distinct
    (placement, locale, amount), renders each with Jinja templates into HTML
    fragments, and fills the placeholders of the site's pages. A small
    first-party script fires each ad's impression_url in the visitor's browser
    once the placement is seen, never at build time.

    Start with `osm-build build` next to a site_config.yaml.
    """
    setup_logging(verbose, quiet)


@main.command()
@config_option
@strict_option
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the build report as JSON to this file.")
@click.option("--only", "only_products", multiple=True, metavar="ID",
              help="Rebuild only this product id and the pages that show it (repeatable).")
def build(config_path: Path, strict: bool, report_path: Path | None, only_products: tuple[str, ...]) -> None:
    """Build the site: read the catalog, fetch placements, fill pages, publish atomically.

    The output folder named in the config is replaced in one step when the build
    succeeds, and a failed build leaves the published site as it was. With --only,
    the build starts from the published release and redoes only the named products.
    """
    from osm_build.build import BuildOptions, run_build

    loaded = load_checked_config(config_path, strict)
    progress = FetchProgress() if sys.stderr.isatty() else None
    try:
        options = BuildOptions(strict=strict, on_fetch_progress=progress,
                               only_products=frozenset(only_products) if only_products else None)
        report = run_build(loaded, options)
    finally:
        if progress:
            progress.close()

    for line in report.summary_lines():
        click.echo(line, err=True)
    if report_path:
        report.write(report_path)
    click.echo(f"Published {loaded.resolve(loaded.settings.output.directory)}", err=True)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON on stdout.")
def plan(config_path: Path, as_json: bool) -> None:
    """Print the distinct OSM requests the catalog needs, without any network traffic.

    With --json the output is one object with "items" (every priced product or
    variant per market, with its source line), "requests" (the distinct
    requests), "products" (the count) and "errors" (the skipped rows).
    """
    from osm_build.planning import plan_catalog, write_plan_json

    loaded = load_checked_config(config_path, strict=False)
    if as_json:
        write_plan_json(loaded, sys.stdout)
        return
    plan, report = plan_catalog(loaded)
    requests = plan.sorted_requests()
    click.echo(f"{len(plan.products)} products, {report.items_priced} priced items, "
               f"{len(requests)} distinct requests, {report.rows_skipped} rows skipped")
    for request in requests:
        amount = "" if request.purchase_amount is None else request.purchase_amount
        click.echo(f"  {request.placement_key:28} {request.locale:6} {amount}")
    for error in report.errors:
        click.echo(f"skipped: {error}", err=True)


@main.command()
@config_option
def rollback(config_path: Path) -> None:
    """Publish the previous release of the output folder again.

    osm-build keeps the published release and the one before it, so one rollback
    is possible after each build.
    """
    from osm_build.publish import Publisher

    loaded = load_checked_config(config_path, strict=False)
    release = Publisher(loaded.resolve(loaded.settings.output.directory)).rollback()
    click.echo(f"Published {release.name} again", err=True)


class FetchProgress:
    """A progress bar for the fetch stage, shown only on a terminal."""

    def __init__(self) -> None:
        self._bar = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="Fetching placements", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._bar.pos)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _register_optional_commands() -> None:
    try:
        from osm_build.emulator.cli import emulator_command
    except ImportError:  # NOTE: the emulator command is missing only in a partial checkout.
        return
    main.add_command(emulator_command, name="emulator")


def _register_commands() -> None:
    from osm_build.webhook.cli import check_command, serve_command

    main.add_command(serve_command, name="serve")
    main.add_command(check_command, name="check")


_register_optional_commands()
_register_commands()
