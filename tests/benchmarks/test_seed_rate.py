"""How fast `etl seed` writes shop traffic into a source database: orders/s and change events/s.

`run_seed` (what `etl seed` runs) writes ORDERS orders with their later changes into a database
of its own with the source schema, on the throwaway PostgreSQL cluster of
tests/fixtures/postgres.py (same initdb and migrations as `etl up`'s source; its server settings
are the warehouse's, `wal_level=replica` instead of `logical`, and no Debezium reads its WAL).
Change events are the row changes PostgreSQL itself counted on the captured tables
(`pg_stat_user_tables`: inserts, updates and deletes, cascaded deletes of order lines included),
i.e. one per event Debezium would emit (tombstones aside). Printed at the end of the run and kept
in the benchmark's `extra_info`. No timed assertion.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from app.seed import SeedPlan, run_seed
from etl.settings import Settings
from etl.tables import CAPTURED_TABLES
from tests.benchmarks.figures import record_figures
from tests.fixtures.postgres import source_database

ORDERS = 1000

_ROW_CHANGES = (
    "SELECT relname, n_tup_ins, n_tup_upd + n_tup_del FROM pg_stat_user_tables"
    " WHERE schemaname = 'public' AND relname = ANY(%s)"
)


def row_changes(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """(inserts, updates + deletes) per captured table, as the statistics system counted them.

    A backend reports its counts when it exits, before it leaves pg_stat_activity: waiting
    until this is the only backend on the database makes the seed's counts complete.
    """
    deadline = time.monotonic() + 30
    while conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    ).fetchone() != (0,):
        assert time.monotonic() < deadline, "the seed's connection did not go away"
        time.sleep(0.05)
    conn.execute("SELECT pg_stat_clear_snapshot()")
    rows = conn.execute(_ROW_CHANGES, (list(CAPTURED_TABLES),)).fetchall()
    return {name: (inserted, changed) for name, inserted, changed in rows}


@pytest.mark.benchmark(group="seed")
def test_seed_rate(benchmark, warehouse_settings: Settings) -> None:
    # its own database: no other test's connection or rows on it (row_changes waits for those)
    source_dsn = source_database(warehouse_settings, "shop_seed_bench")
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        before = row_changes(conn)
        written = benchmark.pedantic(
            run_seed, args=(source_dsn, SeedPlan(orders=ORDERS, seed=12)), rounds=1, iterations=1
        )
        after = row_changes(conn)
    inserted = {t: after[t][0] - before[t][0] for t in CAPTURED_TABLES}
    events = sum(sum(after[t]) - sum(before[t]) for t in CAPTURED_TABLES)
    assert inserted["orders"] == written["orders"] == ORDERS, (inserted, written)
    assert inserted["order_items"] == written["order_items"] > ORDERS, (inserted, written)
    seconds = float(benchmark.stats["min"])
    record_figures(
        benchmark,
        f"{ORDERS} orders, {events} change events in {seconds:.2f} s ="
        f" {ORDERS / seconds:,.0f} orders/s, {events / seconds:,.0f} change events/s",
        orders=ORDERS,
        change_events=events,
        orders_per_s=ORDERS / seconds,
        change_events_per_s=events / seconds,
    )
