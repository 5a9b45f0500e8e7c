"""``osm-build check``: exit 1 once a fragment expired or a price change is due, 0 after a rebuild."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from osm_build.check import find_stale
from osm_build.webhook.cli import check_command
from tests.webhook.conftest import build_site, make_site


def test_check_expired_then_rebuilt(tmp_path, emulator_factory):
    emulator = emulator_factory(max_age_seconds=3)
    config = make_site(tmp_path, emulator.base_url)
    build_site(config)
    runner = CliRunner()

    fresh = runner.invoke(check_command, ["-c", str(config)])
    assert fresh.exit_code == 0, fresh.output
    assert fresh.output.startswith("Up to date:")

    time.sleep(3.2)
    stale = runner.invoke(check_command, ["-c", str(config)])
    assert stale.exit_code == 1
    assert "expired       credit-promotion-badge/en-US/5500" in stale.output
    machine = runner.invoke(check_command, ["-c", str(config), "--json"])
    assert machine.exit_code == 1
    assert json.loads(machine.output)["is_stale"] is True

    build_site(config)
    rebuilt = runner.invoke(check_command, ["-c", str(config)])
    assert rebuilt.exit_code == 0, rebuilt.output


def test_check_without_site(tmp_path, emulator_factory):
    config = make_site(tmp_path, "http://127.0.0.1:9")
    result = CliRunner().invoke(check_command, ["-c", str(config)])
    assert result.exit_code == 1
    assert "Nothing is published" in result.output


def test_find_stale_price_change():
    manifest = {
        "fragments": {"credit-promotion-badge/en-US/5500": {"expires_at": "2030-01-01T00:00:00+00:00"}},
        "products": {
            "58": [
                {"variant": None, "locale": "en-US", "price_changes_at": "2026-01-01T00:00:00+00:00"},
                {"variant": None, "locale": "es-US", "price_changes_at": "2031-01-01T00:00:00+00:00"},
            ]
        },
    }
    result = find_stale(manifest, Path("manifest.json"), datetime(2027, 1, 1, tzinfo=UTC))
    assert [(entry.kind, entry.key) for entry in result.stale] == [("price_change", "58 - en-US")]
    assert result.fragments == 1
    assert result.items == 2
