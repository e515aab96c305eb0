"""The whole pipeline end to end: source -> Debezium -> Kafka -> Spark -> loader -> warehouse.

Every service is the one `etl up` starts under supervisord. Earlier tests wrote crafted records
onto the curated topics and into the warehouse, so the `reloaded` fixture first rebuilds the
warehouse from the CDC topics alone: empty warehouse tables, loader offsets at the curated topics'
current ends, a fresh transform checkpoint (the job re-reads every CDC topic from the start).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.dashboard import create_app
from app.idle import measure_idle
from app.seed import SeedPlan, run_seed
from etl.settings import Settings
from infra.local.supervisor import Supervisor
from tests.fixtures.stack import etl_cli
from tests.fixtures.warehouse import (
    Offsets,
    curated_ends,
    describe,
    loader_in_transaction,
    offset_coverage,
    rebuild_warehouse,
    reconcile_json,
)

pytestmark = pytest.mark.e2e


#: Curated offsets the warehouse was reset to: every later message is loaded exactly once.
RESET_OFFSETS: Offsets = {}


@pytest.fixture(scope="module")
def running(pipeline: Settings) -> Settings:
    """Every component running, on a warehouse rebuilt from the CDC topics (see module doc)."""
    RESET_OFFSETS.clear()
    RESET_OFFSETS.update(rebuild_warehouse(pipeline))
    return pipeline


def test_every_component_is_healthy(running):
    result = etl_cli("status", "--json", check=False)
    status = json.loads(result.stdout)
    unhealthy = [c for c in status["components"] if c["state"] != "healthy"]
    assert result.returncode == 0 and unhealthy == [], json.dumps(unhealthy, default=str)[:2000]
    assert len(status["components"]) == 8
    dashboard = TestClient(create_app(running)).get("/api/status")
    assert dashboard.status_code == 200 and dashboard.json()["healthy"] is True


def test_seeded_orders_reach_the_warehouse_and_reconcile(running):
    summary = json.loads(etl_cli("seed", "--orders", "2000", "--seed", "11", "--json").stdout)
    assert summary["deletes"] > 0 and summary["status_updates"] > 0
    started = time.monotonic()
    code, result = reconcile_json()
    print(
        f"\nreconcile after seeding 2000 orders: match={result['match']} in "
        f"{time.monotonic() - started:.1f} s (drain waits included)"
    )
    assert result["drained"] is True, describe(result)
    assert result["match"] is True and code == 0, describe(result)
    assert result["summaries_consistent"] is True


def test_loader_killed_mid_batch_still_reconciles_without_double_application(running):
    sup = Supervisor(running)
    restarts = sup.restarts("loader")
    seeding = threading.Thread(
        target=run_seed, args=(running.source_dsn(), SeedPlan(orders=3000, seed=23)), daemon=True
    )
    seeding.start()
    with psycopg.connect(running.warehouse_dsn(), autocommit=True) as conn:
        assert loader_in_transaction(conn, deadline_s=180), "the loader never started a batch"
    os.kill(sup.info("loader")["pid"], signal.SIGKILL)
    seeding.join(timeout=600)
    assert not seeding.is_alive()
    code, result = reconcile_json()
    assert result["match"] is True and code == 0, describe(result)
    assert sup.restarts("loader") == restarts + 1  # supervisord brought it back
    # The killed batch left no trace; every committed batch covers offsets no other batch did.
    with psycopg.connect(running.warehouse_dsn()) as conn:
        coverage = offset_coverage(conn, RESET_OFFSETS, curated_ends(running))
    assert coverage.exactly_once, coverage


def test_bench_latency_times_orders_that_really_arrived(running):
    """The harness works: every timed order is in the warehouse, figures are positive."""
    result = json.loads(
        etl_cli("bench", "latency", "--orders", "3", "--idle", "0.5", "--json").stdout
    )
    assert result["orders"] == 3 and len(result["samples_s"]) == 3
    assert 0 < result["p50_s"] <= result["p95_s"] <= result["max_s"]
    with (
        psycopg.connect(running.source_dsn()) as src,
        psycopg.connect(running.warehouse_dsn()) as wh,
    ):
        (customer,) = src.execute(
            "SELECT customer_id FROM customers WHERE email = 'bench@example.org'"
        ).fetchone()
        timed = [
            r[0]
            for r in src.execute("SELECT order_id FROM orders WHERE customer_id = %s", (customer,))
        ]
        landed = wh.execute(
            "SELECT count(*) FROM dw.fact_orders WHERE order_id = ANY(%s)", (timed,)
        ).fetchone()[0]
    assert len(timed) >= 3 and landed == len(timed)


def test_bench_idle_measures_every_service_and_sees_a_change(running):
    """Each supervisord program with its whole process tree (the transform's JVM, PostgreSQL's
    backends); a change committed during the window is reported, so a busy stack never passes
    for an idle one."""
    result = json.loads(etl_cli("bench", "idle", "--seconds", "3", "--json").stdout)
    programs = Supervisor(running).rpc.supervisor.getAllProcessInfo()
    services = {s["name"]: s for s in result["services"]}
    assert set(services) == {p["name"] for p in programs if p["statename"] == "RUNNING"}
    assert services["transform"]["processes"] >= 2  # the Python driver and its Spark JVM
    assert services["source-db"]["processes"] > 1  # the postmaster and its backends
    assert all(s["rss_mib"] > 0 and s["cpu_pct_of_core"] >= 0 for s in services.values())
    assert result["cpu_pct_of_core"] == pytest.approx(
        sum(s["cpu_pct_of_core"] for s in services.values()), abs=0.05
    )
    assert result["cpu_pct_of_core"] > 0
    assert all(s["threads"] == [] for s in services.values())  # only with --threads

    # every thread group (far more than any service has): they add up to the service's CPU.
    # The kernel counts each thread's time in 10 ms ticks, rounded per thread, so Kafka's ~60
    # threads can sum to 50 ms more than the process (1.65 points of a 3 s window, seen in
    # CI); over 10 s the same rounding stays well inside the tolerance.
    detailed = json.loads(
        etl_cli("bench", "idle", "--seconds", "10", "--threads", "10000", "--json").stdout
    )
    for service in detailed["services"]:
        shares = [t["cpu_pct_of_core"] for t in service["threads"]]
        assert shares and shares == sorted(shares, reverse=True), service
        assert all(t["threads"] >= 1 for t in service["threads"]), service
        # processes and threads are read a few milliseconds apart at each end of the window
        assert sum(shares) == pytest.approx(service["cpu_pct_of_core"], abs=1.5), service
    transform = next(s for s in detailed["services"] if s["name"] == "transform")
    assert sum(t["threads"] for t in transform["threads"]) > 20  # the Spark JVM's threads

    def insert_once(_elapsed: float) -> None:  # called from inside the window, after 1 s
        if not inserted:
            with psycopg.connect(running.source_dsn(), autocommit=True) as src:
                src.execute(
                    "INSERT INTO customers (email, full_name, country)"
                    " VALUES ('idle-bench@example.org', 'Idle Bench', 'DE')"
                )
            inserted.append(True)

    inserted: list[bool] = []
    busy = measure_idle(running, 6, progress=insert_once)
    assert inserted and busy.source_row_changes >= 1


def test_bench_burst_ends_with_the_warehouse_equal_to_the_source(running):
    result = json.loads(etl_cli("bench", "burst", "--orders", "200", "--json", timeout=900).stdout)
    assert result["orders"] == 200 and result["change_events"] > 200
    assert result["drain_after_seed_s"] >= result["hops"]["loader_s"] >= 0
    assert result["orders_per_s"] > 0 and result["events_per_s"] > 0
    code, reconciled = reconcile_json()
    assert reconciled["match"] is True and code == 0, describe(reconciled)
