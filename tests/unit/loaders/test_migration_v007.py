"""Migration V007 on a warehouse loaded before it: the start LSN of every dimension row and the
LSN every fact's member is resolved at are filled from what the rows still say."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from etl.migrations import SQL_ROOT, apply_migrations
from etl.settings import Settings, maintenance_dsn
from infra.local.bootstrap import create_database

pytestmark = pytest.mark.unit

V007 = "V007__facts_reference_the_version_valid_when_placed.sql"


def test_v007_fills_the_new_columns_of_rows_loaded_before_it(
    warehouse_settings: Settings, tmp_path: Path
) -> None:
    dsn = maintenance_dsn(warehouse_settings.warehouse_dsn()).rsplit("/", 1)[0] + "/wh_v007"
    create_database(maintenance_dsn(dsn), "wh_v007")
    before = sorted(p for p in (SQL_ROOT / "warehouse").glob("V*.sql") if p.name < V007)
    for path in before:
        shutil.copy(path, tmp_path)
    apply_migrations(dsn, tmp_path)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO dw.dim_customer (customer_id, country, valid_from, valid_to, is_current,"
            " is_inferred, is_deleted, version) VALUES"
            " (1, 'DE', '2026-01-01', '2026-01-05', false, false, false, 1),"  # sk 1
            " (1, 'FR', '2026-01-05', 'infinity', true, false, true, 9),"  # sk 2: deleted at 9
            " (2, NULL, '2026-01-02', 'infinity', true, true, false, 0)"  # sk 3: inferred
        )
        conn.execute(
            "INSERT INTO dw.fact_orders (order_id, customer_id, customer_sk, version,"
            " source_committed_at) VALUES (10, 1, 1, 3, now()), (11, 2, 3, 4, now())"
        )

        shutil.copy(SQL_ROOT / "warehouse" / V007, tmp_path)
        assert [m.name for m in apply_migrations(dsn, tmp_path)] == [V007[6:-4]]

        assert conn.execute(
            "SELECT customer_sk, version_from FROM dw.dim_customer ORDER BY 1"
        ).fetchall() == [(1, 1), (2, 2), (3, 0)]
        assert conn.execute(
            "SELECT order_id, customer_as_of FROM dw.fact_orders ORDER BY 1"
        ).fetchall() == [(10, 3), (11, 4)]
        as_of = "SELECT dw.customer_sk_at(%s, %s)"
        assert [conn.execute(as_of, (1, v)).fetchone() for v in (0, 1, 2, 9)] == [
            (1,),  # older than every row: the oldest after it
            (1,),
            (2,),
            (2,),
        ]
