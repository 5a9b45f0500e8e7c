"""The ``osm-build emulator`` command: help, option checks and a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner
from emulator_helpers import USER_AGENT, query

from osm_build.emulator.cli import emulator_command

STARTUP_SECONDS = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emulator_argv() -> list[str]:
    """Return the command that starts ``osm-build emulator`` with this test's interpreter."""
    script = Path(sys.executable).parent / "osm-build"
    if script.exists():
        return [str(script), "emulator"]
    return [sys.executable, "-m", "osm_build", "emulator"]


def test_help_lists_options():
    result = CliRunner().invoke(emulator_command, ["--help"])
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--client-id",
        "--api-key-env",
        "--max-age",
        "--latency-ms",
        "--fail-rate",
        "--throttle-rate",
        "--retry-after",
        "--timeout-rate",
        "--malformed-rate",
        "--empty-rate",
        "--cache-control",
        "--no-offer-answer",
        "--seed",
    ):
        assert option in result.output, option
    assert "--api-key " not in result.output
    assert "milliseconds" in result.output
    assert "not Klarna" in result.output


def test_rate_out_of_range_usage_error():
    result = CliRunner().invoke(emulator_command, ["--fail-rate", "1.5"])
    assert result.exit_code == 2
    assert "--fail-rate" in result.output


def test_rate_sum_usage_error():
    result = CliRunner().invoke(emulator_command, ["--fail-rate", "0.6", "--empty-rate", "0.6"])
    assert result.exit_code == 2
    assert "add up to 1.2" in result.output


def test_bad_retry_after_usage_error():
    result = CliRunner().invoke(emulator_command, ["--retry-after", "soon"])
    assert result.exit_code == 2
    assert "--retry-after: 'soon' is neither" in result.output


def test_emulator_process_serves(tmp_path):
    port = free_port()
    environment = {**os.environ, "OSM_EMULATOR_API_KEYS": "process-secret"}
    argv = [
        *emulator_argv(),
        "--port",
        str(port),
        "--client-id",
        "store-1",
        "--max-age",
        "120",
        "--seed",
        "1",
    ]
    log_path = tmp_path / "emulator.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=environment)
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + STARTUP_SECONDS
        with httpx.Client(
            base_url=base_url, headers={"User-Agent": USER_AGENT}, timeout=2
        ) as client:
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    client.get("/__emulator/stats")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the emulator process did not start in time"
                    time.sleep(0.1)
            ok = client.get("/messaging/v3", params=query(client_id="store-1"))
            forbidden = client.get("/messaging/v3", params=query())
            v4 = client.get(
                "/messaging/v4", params=query(client_id="store-1"), auth=("process-secret", "")
            )
            stats = client.get("/__emulator/stats").json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert ok.status_code == 200
    assert ok.headers["cache-control"] == "max-age=120"
    assert forbidden.status_code == 403
    assert v4.status_code == 200
    assert stats["by_status"] == {"200": 2, "403": 1}
    output = log_path.read_text()
    assert f"listening on http://127.0.0.1:{port}" in output
    assert "not Klarna" in output
    assert "process-secret" not in output
