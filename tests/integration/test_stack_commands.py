"""`etl up`/`status`/`down`, migrations and the seed generator against the genuine stack."""

from __future__ import annotations

import json
import os
import time

import psycopg
import pytest
from psycopg import sql

from app.seed import SeedPlan, run_seed
from etl.migrations import SQL_ROOT, apply_migrations
from etl.settings import Settings
from etl.source_db import prepare_source
from infra.local.runner import port_in_use
from infra.local.supervisor import pid_path
from tests.fixtures.stack import etl_cli

pytestmark = pytest.mark.integration


def status_json() -> tuple[int, dict]:
    result = etl_cli("status", "--json", check=False)
    return result.returncode, json.loads(result.stdout)


CORE = ["source-db", "warehouse-db", "kafka", "connect", "connector"]
APPS = ["transform", "loader", "dashboard"]


def test_status_json_reports_each_component(stack):
    code, status = status_json()
    by_name = {c["name"]: c for c in status["components"]}
    assert list(by_name) == CORE + APPS
    for component in status["components"]:
        assert {"name", "state", "pid", "port"} <= component.keys()
    assert all(by_name[name]["state"] == "healthy" for name in CORE)
    # the core fixture leaves the apps stopped: not all healthy, so exit code 1
    assert all(by_name[name]["state"] == "stopped" for name in APPS)
    assert code == 1 and status["healthy"] is False
    assert by_name["kafka"]["port"] == stack.port("kafka")
    assert by_name["connector"]["connector_state"] == "RUNNING"
    assert [t["state"] for t in by_name["connector"]["tasks"]] == ["RUNNING"]
    for name in ("source-db", "warehouse-db", "kafka", "connect"):
        assert isinstance(by_name[name]["pid"], int) and by_name[name]["restarts"] >= 0


def test_etl_up_twice_is_a_no_op(stack):
    _, before = status_json()
    result = etl_cli("up", *CORE)
    _, after = status_json()
    assert "unchanged" in result.stderr  # connector config not PUT again
    assert "schema and roles changed" not in result.stderr  # no migration, no role change
    assert [(c["name"], c["pid"]) for c in after["components"]] == [
        (c["name"], c["pid"]) for c in before["components"]
    ]


def test_migrations_rerun_apply_nothing(stack):
    assert prepare_source(stack) == []


def test_a_changed_applied_migration_is_refused(stack, tmp_path):
    (tmp_path / "V001__t.sql").write_text("CREATE TABLE t_mig (id int);")
    dsn = stack.warehouse_dsn()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS mig_test")
    scoped = dsn + "?options=-csearch_path%3Dmig_test"
    try:
        assert [m.name for m in apply_migrations(scoped, tmp_path)] == ["t"]
        assert apply_migrations(scoped, tmp_path) == []
        (tmp_path / "V001__t.sql").write_text("CREATE TABLE t_mig (id bigint);")
        with pytest.raises(Exception, match="changed after it was applied"):
            apply_migrations(scoped, tmp_path)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP SCHEMA mig_test CASCADE")


def _scratch_db(settings: Settings, name: str) -> str:
    admin = settings.source_dsn().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = settings.source_dsn().rsplit("/", 1)[0] + "/" + name
    apply_migrations(dsn, SQL_ROOT / "source")
    return dsn


SNAPSHOT_QUERIES = {
    "customers": "SELECT customer_id, email, full_name, country FROM customers ORDER BY 1",
    "products": "SELECT product_id, sku, name, category, unit_price FROM products ORDER BY 1",
    "orders": "SELECT order_id, customer_id, status, total_amount FROM orders ORDER BY 1",
    "order_items": (
        "SELECT order_id, product_id, quantity, unit_price FROM order_items ORDER BY 1, 2"
    ),
}


def test_seed_is_reproducible_and_keeps_totals_equal_to_items(stack):
    plan = SeedPlan(orders=150, seed=7)
    contents, summaries = [], []
    for name in ("seed_a", "seed_b"):
        dsn = _scratch_db(stack, name)
        summaries.append(run_seed(dsn, plan))
        with psycopg.connect(dsn) as conn:
            contents.append({t: conn.execute(q).fetchall() for t, q in SNAPSHOT_QUERIES.items()})
            mismatched = conn.execute(
                "SELECT o.order_id FROM orders o JOIN order_items i USING (order_id)"
                " GROUP BY o.order_id, o.total_amount"
                " HAVING o.total_amount <> sum(i.quantity * i.unit_price)"
            ).fetchall()
            assert mismatched == []
            statuses = {r[0] for r in conn.execute("SELECT DISTINCT status FROM orders")}
            assert {"pending", "paid", "cancelled"} <= statuses
    assert contents[0] == contents[1]
    first = summaries[0]
    assert first["orders"] == 150 and first["deletes"] > 0 and first["cancellations"] > 0
    assert first["order_items"] >= 150 and first["customer_updates"] > 0
    assert len(contents[0]["orders"]) == 150 - first["deletes"]


def test_lifecycle_down_stops_every_process_it_started(stack):
    _, status = status_json()
    pids = [c["pid"] for c in status["components"] if c.get("process_state")]
    supervisord_pid = int(pid_path(stack).read_text())
    etl_cli("down")
    deadline = time.monotonic() + 30
    alive = [p for p in [*pids, supervisord_pid] if os.path.exists(f"/proc/{p}")]
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if os.path.exists(f"/proc/{p}")]
    assert alive == []
    for c in status["components"]:
        if c["port"]:
            assert not port_in_use(stack.bind_host, c["port"]), c["name"]
    code, after = status_json()
    assert code == 1 and after["healthy"] is False
