"""Run ``python -m osm_build.webhook serve|check``, the same commands as ``osm-build serve|check``."""

import click

from osm_build.webhook.cli import check_command, serve_command


@click.group()
def webhook_commands() -> None:
    """Serve webhooks or check the published site."""


webhook_commands.add_command(serve_command)
webhook_commands.add_command(check_command)

if __name__ == "__main__":
    webhook_commands()
