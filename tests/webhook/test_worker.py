"""The build loop: a delivery that breaks every build cannot hold back or sink the others."""

from __future__ import annotations

import logging

import pytest

from osm_build.build import BuildOptions, run_build
from osm_build.config import LoadedConfig, load_config
from osm_build.webhook import worker as worker_module
from osm_build.webhook.cli import webhook_settings
from osm_build.webhook.journal import Journal
from osm_build.webhook.worker import BuildWorker

from tests.webhook.conftest import build_site, json_body, make_site, published_page

POISON = "poison-product"


def failing_on_poison(config: LoadedConfig, options: BuildOptions):
    """Run the real build, but fail like an item index overflow when the poison product is in scope."""
    if options.only_products is None or POISON in options.only_products:
        raise OverflowError("Python int too large to convert to SQLite INTEGER")
    return run_build(config, options)


@pytest.fixture
def site(tmp_path, emulator_factory):
    config_path = make_site(tmp_path, emulator_factory().base_url)
    build_site(config_path)
    loaded = load_config(config_path)
    journal = Journal(tmp_path / "journal.sqlite")
    worker = BuildWorker(loaded, webhook_settings(loaded), journal, build=failing_on_poison)
    yield config_path, journal, worker
    journal.close()


@pytest.fixture
def worker_log(caplog):
    """Capture the worker's log, even after the CLI turned off propagation to the root logger."""
    logger = logging.getLogger("osm_build.webhook.worker")
    logger.addHandler(caplog.handler)
    caplog.handler.setLevel(logging.INFO)
    logger.setLevel(logging.INFO)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(logging.NOTSET)


def add(journal: Journal, delivery_id: str, products: list) -> None:
    assert journal.add("cms", delivery_id, None, "application/json", json_body({"products": products}))


def states(journal: Journal) -> dict[str, tuple[str, int]]:
    rows = journal._db.execute("SELECT delivery_id, state, attempts FROM deliveries").fetchall()
    return {delivery_id: (state, attempts) for delivery_id, state, attempts in rows}


def test_poison_does_not_block_batch(site, worker_log, monkeypatch):
    config_path, journal, worker = site
    monkeypatch.setattr(worker_module, "MAX_ATTEMPTS", 2)
    add(journal, "poison-1", [POISON])
    add(journal, "belt-1", [{"id": "58", "price": "44.00"}])
    add(journal, "belt-2", [{"id": "58", "price": "45.00"}])

    worker._build_pending()

    # The batch failed, then each delivery was built alone: the valid ones are published.
    assert worker.builds == 4
    assert states(journal) == {"poison-1": ("pending", 1), "belt-1": ("done", 0), "belt-2": ("done", 0)}
    assert 'data-osm-amount="4500"' in published_page(config_path)
    health = worker.health()
    assert health.status == "degraded"
    assert health.last_error == "OverflowError: Python int too large to convert to SQLite INTEGER"
    assert health.given_up == []

    # Retried alone until it is given up; a new delivery in the same round is published.
    add(journal, "belt-3", [{"id": "58", "price": "46.00"}])
    worker._build_pending()
    assert states(journal)["poison-1"] == ("failed", 2)
    assert states(journal)["belt-3"] == ("done", 0)
    assert 'data-osm-amount="4600"' in published_page(config_path)
    health = worker.health()
    assert health.status == "degraded"
    assert health.given_up_count == 1
    assert health.given_up[0]["delivery_id"] == "poison-1"
    assert health.given_up[0]["source"] == "cms"
    assert "OverflowError" in health.given_up[0]["error"]
    assert "Gave up on delivery poison-1 from cms after 2 failed builds: OverflowError" in worker_log.text
    assert "Gave up on delivery belt" not in worker_log.text

    # A round without a failure clears the degraded state.
    add(journal, "belt-4", [{"id": "58", "price": "47.00"}])
    worker._build_pending()
    assert worker.health().status == "ok"
    assert worker.health().last_error is None
    assert worker.health().given_up_count == 0


def test_outage_stops_isolation_early(site, worker_log):
    config_path, journal, worker = site
    for number in range(6):
        add(journal, f"poison-{number}", [POISON])

    worker._build_pending()

    # One batch build and ISOLATION_PROBES single builds, then the round stops.
    assert worker.builds == 1 + worker_module.ISOLATION_PROBES
    counted = [attempts for _, attempts in states(journal).values()]
    assert sorted(counted) == [0, 0, 0, 1, 1, 1]
    assert "3 deliveries failed alone as well" in worker_log.text
    assert worker.health().status == "degraded"


def test_older_price_keeps_newer(site):
    config_path, journal, worker = site
    add(journal, "belt-new", [{"id": "58", "price": "48.00"}])
    worker._build_pending()
    assert 'data-osm-amount="4800"' in published_page(config_path)

    # An older delivery built later, as after a retry, keeps the newer price in place.
    add(journal, "belt-old", [{"id": "58", "price": "41.00"}])
    journal._db.execute("UPDATE deliveries SET received_at = 0 WHERE delivery_id = 'belt-old'")
    worker._build_pending()
    assert 'data-osm-amount="4800"' in published_page(config_path)
    amounts = [price.purchase_amount for price in journal.stored_prices(newer_than=0)]
    assert 4800 in amounts
    assert 4100 not in amounts
