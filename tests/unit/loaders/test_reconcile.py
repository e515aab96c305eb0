"""Reconciliation tiers and the warehouse report, on the throwaway cluster.

A `shop_unit` database with the real source schema stands in for the source; the warehouse is
loaded through the real apply path with records built from the source rows themselves
(row_to_json, as the transform job renders them), so the two sides start equal.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest

from etl.settings import Settings
from loaders.entities import ENTITIES
from loaders.reconcile import compare_entity
from loaders.report import warehouse_report
from tests.unit.loaders.conftest import Applier
from tests.unit.loaders.records import change

pytestmark = pytest.mark.unit
SEED_SQL = """
INSERT INTO customers (customer_id, email, full_name, country, created_at, updated_at)
SELECT g, 'c' || g || '@example.org', 'Customer ' || g, (ARRAY['DE','FR','NL'])[g % 3 + 1],
       timestamptz '2026-01-01' + g * interval '1 minute', timestamptz '2026-01-02'
FROM generate_series(1, 50) g;
INSERT INTO products (product_id, sku, name, category, unit_price)
SELECT g, 'SKU-' || g, 'Product ' || g, 'books', g * 1.25 FROM generate_series(1, 10) g;
INSERT INTO orders (order_id, customer_id, status, total_amount, ordered_at, updated_at)
SELECT g, g % 50 + 1, (ARRAY['pending','paid','cancelled'])[g % 3 + 1], 0,
       timestamptz '2026-01-03 08:00' + g * interval '7 minutes', timestamptz '2026-01-05'
FROM generate_series(1, %(orders)s) g;
INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT o, p, (o + p) % 3 + 1, p * 1.25
FROM generate_series(1, %(orders)s) o, generate_series(1, 2) p;
UPDATE orders o SET total_amount = s.total
FROM (SELECT order_id, sum(quantity * unit_price) total FROM order_items GROUP BY 1) s
WHERE s.order_id = o.order_id;
"""


@pytest.fixture
def source(source_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(source_dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE customers, products, orders, order_items RESTART IDENTITY CASCADE")
        yield conn


def seed_and_load(source: psycopg.Connection, apply: Applier, orders: int) -> None:
    """Seed the source, then load the warehouse with one snapshot record per source row."""
    source.execute(SEED_SQL.replace("%(orders)s", str(orders)))
    records = []
    for version, (name, entity) in enumerate(ENTITIES.items(), start=1):
        for (row,) in source.execute(f"SELECT row_to_json(t)::text FROM {name} t ORDER BY 1"):
            data = json.loads(row, parse_float=str)
            records.append(change(name, data[entity.key], version, op="r", **data))
    apply(*records)


def compare_all(source: psycopg.Connection, wh: psycopg.Connection) -> dict[str, dict]:
    """Per table, the comparison as the JSON `etl reconcile --json` prints."""
    for conn in (source, wh):
        conn.execute("SET TIME ZONE 'UTC'")
    return {
        name: compare_entity(source, wh, e).model_dump(mode="json") for name, e in ENTITIES.items()
    }


def test_equal_sides_match_on_every_tier(
    source: psycopg.Connection, wh: psycopg.Connection, apply: Applier
) -> None:
    seed_and_load(source, apply, orders=120)
    result = compare_all(source, wh)
    assert all(r["match"] for r in result.values()), result
    assert result["orders"]["source"]["rows"] == 120


def test_differences_are_found_down_to_the_key(
    source: psycopg.Connection, wh: psycopg.Connection, apply: Applier
) -> None:
    seed_and_load(source, apply, orders=6000)  # large enough for the range bisection
    source.execute("UPDATE orders SET status = 'shipped' WHERE order_id = 4321")  # never arrived
    source.execute("UPDATE customers SET full_name = 'Renamed' WHERE customer_id = 7")
    source.execute("DELETE FROM order_items WHERE order_item_id = 10")
    result = compare_all(source, wh)

    orders = result["orders"]
    assert orders["counts_match"] and orders["amounts_match"] and not orders["hashes_match"]
    assert orders["mismatched_keys"] == [{"key": 4321, "problem": "differs"}]
    assert result["customers"]["mismatched_keys"] == [{"key": 7, "problem": "differs"}]
    items = result["order_items"]
    assert not items["counts_match"]
    assert items["mismatched_keys"] == [{"key": 10, "problem": "unexpected"}]
    assert result["products"]["match"]


def test_warehouse_report_counts_rows_and_revenue(
    warehouse_settings: Settings, source: psycopg.Connection, wh: psycopg.Connection, apply: Applier
) -> None:
    seed_and_load(source, apply, orders=30)
    report = json.loads(warehouse_report(warehouse_settings).model_dump_json())
    assert report["rows"]["fact_orders"] == 30
    assert report["rows"]["fact_order_items"] == 60
    revenue = sum(float(d["revenue"]) for d in report["revenue_by_day"])
    expected = source.execute(
        "SELECT sum(total_amount) FROM orders WHERE status <> 'cancelled'"
    ).fetchone()
    assert expected is not None and revenue == pytest.approx(float(expected[0]))
    assert report["end_to_end_lag_s"] is not None and report["loads"]["batches"] == 1
