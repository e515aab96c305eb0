"""The loader's apply SQL on a real PostgreSQL, fed crafted curated change records."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from loaders.apply import apply_batch, sql_file
from loaders.batch import ChangeBatch
from loaders.offsets import Fenced
from tests.unit.loaders.conftest import Applier
from tests.unit.loaders.records import change_history, customer, item, order, product

pytestmark = pytest.mark.unit


def one(conn: psycopg.Connection, query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def daily(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        "SELECT date_key, country, orders, cancelled_orders, items, revenue"
        " FROM dw.agg_daily_sales_by_country ORDER BY date_key, country"
    ).fetchall()


def dangling(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute(sql_file("dangling_references.sql")).fetchall())


def assert_summaries_consistent(conn: psycopg.Connection) -> None:
    """The incremental summaries equal a full recompute from the facts, per country and per day,
    and every fact's surrogate keys name a dimension row (the warehouse has no FK triggers)."""
    assert set(dangling(conn).values()) == {0}
    assert daily(conn) == conn.execute(sql_file("recompute_daily_sales.sql")).fetchall()
    per_day = conn.execute(
        "SELECT date_key, orders, cancelled_orders, items, revenue FROM dw.agg_daily_sales"
        " ORDER BY date_key"
    ).fetchall()
    recomputed = conn.execute(
        "SELECT date_key, sum(orders), sum(cancelled_orders), sum(items), sum(revenue)"
        " FROM dw.order_sales_contribution GROUP BY date_key ORDER BY date_key"
    ).fetchall()
    assert per_day == recomputed


def test_out_of_order_versions_keep_the_newest(wh: psycopg.Connection, apply: Applier) -> None:
    apply(customer(1, 1), order(10, 20, status="paid", total="30.00"))
    result = apply(order(10, 15, status="pending", total="99.00"))

    assert (result.applied, result.stale) == (0, 1)
    assert one(wh, "SELECT status, total_amount, version FROM dw.fact_orders") == (
        "paid",
        Decimal("30.00"),
        20,
    )
    assert daily(wh) == [(20260105, "DE", 1, 0, 0, Decimal("30.00"))]
    assert_summaries_consistent(wh)


def test_duplicates_in_and_across_batches_apply_once(
    wh: psycopg.Connection, apply: Applier
) -> None:
    records = [
        customer(1, 1),
        product(1, 2),
        order(10, 3, total="20.00"),
        item(100, 4, oid=10, qty=2),
    ]
    first = apply(*records, *records)
    second = apply(*records)

    assert (first.rows_in, first.applied, first.stale) == (8, 4, 4)
    assert (second.applied, second.stale) == (0, 4)
    assert daily(wh) == [(20260105, "DE", 1, 0, 2, Decimal("20.00"))]
    assert one(wh, "SELECT count(*) FROM dw.dim_customer") == 1
    assert one(wh, "SELECT sum(applied) FROM dw.etl_load_audit") == 4


def test_delete_then_late_update_stays_deleted(wh: psycopg.Connection, apply: Applier) -> None:
    apply(customer(1, 1), order(10, 2, total="20.00"), order(11, 3, total="5.00"))
    apply(order(10, 6, total="20.00", op="d"))
    late = apply(order(10, 5, status="paid", total="20.00"))

    assert late.applied == 0
    assert one(wh, "SELECT is_deleted, version FROM dw.fact_orders WHERE order_id = 10") == (
        True,
        6,
    )
    assert daily(wh) == [(20260105, "DE", 1, 0, 0, Decimal("5.00"))]
    assert one(wh, "SELECT count(*) FROM dw.current_orders") == 1
    assert_summaries_consistent(wh)


def test_delete_and_older_update_in_one_batch(wh: psycopg.Connection, apply: Applier) -> None:
    apply(customer(1, 1), order(10, 2))
    apply(order(10, 6, op="d"), order(10, 5, status="paid"))

    assert one(wh, "SELECT is_deleted FROM dw.fact_orders WHERE order_id = 10") is True
    assert daily(wh) == []
    assert one(wh, "SELECT count(*) FROM dw.agg_daily_sales") == 0


def test_scd2_history_when_a_customer_changes_country(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(customer(1, 1, country="DE"), order(10, 2, total="10.00"))
    apply(customer(1, 5, country="FR"), order(11, 6, total="7.00"))
    apply(order(10, 8, status="paid", total="10.00"))  # a later change keeps its DE version

    history = wh.execute(
        "SELECT country, is_current, version, valid_to = lead(valid_from) OVER w,"
        " valid_to = 'infinity' FROM dw.dim_customer WHERE customer_id = 1"
        " WINDOW w AS (ORDER BY valid_from) ORDER BY valid_from"
    ).fetchall()
    assert history == [("DE", False, 1, True, False), ("FR", True, 5, None, True)]
    assert daily(wh) == [
        (20260105, "DE", 1, 0, 0, Decimal("10.00")),
        (20260105, "FR", 1, 0, 0, Decimal("7.00")),
    ]
    assert_summaries_consistent(wh)


def test_scd2_chain_from_several_changes_in_one_batch(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(
        customer(1, 3, country="FR"),
        customer(1, 1, country="DE"),
        customer(1, 7, country="NL"),
        customer(1, 3, country="FR"),
    )

    rows = wh.execute(
        "SELECT country, is_current, valid_to = 'infinity' FROM dw.dim_customer ORDER BY version"
    ).fetchall()
    assert rows == [("DE", False, False), ("FR", False, False), ("NL", True, True)]
    assert one(wh, "SELECT count(*) FROM dw.dim_customer WHERE is_current") == 1


def countries(conn: psycopg.Connection) -> dict[int, str | None]:
    """order_id -> country of the customer version the order references."""
    return dict(
        conn.execute(
            "SELECT f.order_id, c.country FROM dw.fact_orders f"
            " LEFT JOIN dw.dim_customer c USING (customer_sk)"
        ).fetchall()
    )


def test_an_order_that_overtakes_its_customers_change_moves_to_the_new_version(
    wh: psycopg.Connection, apply: Applier
) -> None:
    """Orders and customers are separate topics: an order placed after its customer moved can
    reach the warehouse before the move does. It counts under the new country once that arrives."""
    apply(customer(1, 1, country="DE"), order(10, 2, total="10.00"))
    apply(order(11, 6, total="7.00"))  # placed after the move to FR at LSN 5
    assert countries(wh) == {10: "DE", 11: "DE"}

    apply(customer(1, 5, country="FR"))
    assert countries(wh) == {10: "DE", 11: "FR"}
    assert daily(wh) == [
        (20260105, "DE", 1, 0, 0, Decimal("10.00")),
        (20260105, "FR", 1, 0, 0, Decimal("7.00")),
    ]
    assert_summaries_consistent(wh)


def test_an_order_arriving_after_later_customer_changes_takes_the_version_of_its_time(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(customer(1, 1, country="DE"))
    apply(customer(1, 5, country="FR"), customer(1, 9, country="NL"))
    apply(order(10, 3), order(11, 7))  # placed before both moves, and between them
    assert countries(wh) == {10: "DE", 11: "FR"}

    apply(order(10, 12, status="paid"), customer(1, 13, country="IT"))
    assert countries(wh) == {10: "DE", 11: "FR"}, "later changes keep the order's version"
    assert_summaries_consistent(wh)


def test_a_line_references_the_product_version_of_its_time(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(product(1, 1, price="10.00"))
    apply(item(100, 4, oid=10))  # placed after the price change at LSN 3, arriving before it
    apply(product(1, 3, price="12.00"), item(101, 2, oid=10))  # placed before it, arriving after
    prices = wh.execute(
        "SELECT i.order_item_id, p.unit_price FROM dw.fact_order_items i"
        " JOIN dw.dim_product p USING (product_sk) ORDER BY 1"
    ).fetchall()
    assert prices == [(100, Decimal("12.00")), (101, Decimal("10.00"))]


def drained_unevenly(
    rng: random.Random, records: list[dict[str, Any]], partitions: int = 3
) -> list[list[dict[str, Any]]]:
    """The records as the loader can receive them: each topic partition in commit order (keys
    spread over `partitions`), the partitions drained at different speeds, in uneven batches."""
    queues: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in records:
        (key,) = r["key"].values()  # a TRUNCATE's is null: one partition for all of a table's
        queues.setdefault((r["entity"], (key or 0) % partitions), []).append(r)
    arrival: list[dict[str, Any]] = []
    while queues:
        tp = rng.choice(sorted(queues))
        take = rng.randint(1, 12)
        arrival += queues[tp][:take]
        del queues[tp][:take]
        if not queues[tp]:
            del queues[tp]
    batches = []
    while arrival:
        size = rng.randint(1, 30)
        batches.append(arrival[:size])
        del arrival[:size]
    return batches


def countries_when_placed(records: list[dict[str, Any]]) -> dict[int, str]:
    """order_id -> its customer's country at the order's first change, in commit order."""
    country: dict[int, str] = {}
    placed: dict[int, str] = {}
    for r in records:
        if r["entity"] == "customers":
            country[r["key"]["customer_id"]] = r["data"]["country"]
        elif r["entity"] == "orders":
            placed.setdefault(r["key"]["order_id"], country[r["data"]["customer_id"]])
    return placed


@pytest.mark.parametrize("seed", [4, 5, 6, 7])
def test_any_drain_order_of_the_topics_counts_each_order_under_its_country_then(
    wh: psycopg.Connection, apply: Applier, seed: int
) -> None:
    rng = random.Random(seed)
    records = change_history(rng, orders=40)
    for batch in drained_unevenly(rng, records):
        apply(*batch)
    assert countries(wh) == countries_when_placed(records)
    assert_summaries_consistent(wh)


def test_status_and_item_changes_move_the_summaries(wh: psycopg.Connection, apply: Applier) -> None:
    apply(
        customer(1, 1),
        product(1, 1),
        product(2, 1),
        order(10, 2, total="40.00"),
        item(100, 3, oid=10, pid=1, qty=2),
        item(101, 4, oid=10, pid=2, qty=1, price="20.00"),
    )
    assert daily(wh) == [(20260105, "DE", 1, 0, 3, Decimal("40.00"))]

    apply(item(100, 5, oid=10, qty=5), order(10, 6, total="70.00"))
    assert daily(wh) == [(20260105, "DE", 1, 0, 6, Decimal("70.00"))]

    apply(item(101, 7, oid=10, pid=2, qty=1, price="20.00", op="d"), order(10, 8, total="50.00"))
    assert daily(wh) == [(20260105, "DE", 1, 0, 5, Decimal("50.00"))]

    apply(order(10, 9, status="cancelled", total="50.00"))
    assert daily(wh) == [(20260105, "DE", 1, 1, 0, Decimal("0.00"))]
    assert one(wh, "SELECT avg_order_value FROM dw.agg_daily_sales") is None
    assert_summaries_consistent(wh)


def test_order_before_its_customer_gets_an_inferred_member(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(order(10, 5, cid=7, total="12.00"))
    sk, inferred = one(wh, "SELECT customer_sk, is_inferred FROM dw.dim_customer")
    assert inferred is True
    assert one(wh, "SELECT customer_sk FROM dw.fact_orders") == sk
    assert daily(wh) == [(20260105, "??", 1, 0, 0, Decimal("12.00"))]

    apply(customer(7, 2, country="NL"))  # an older change than the order, arriving later
    assert one(wh, "SELECT customer_sk, is_inferred, country FROM dw.dim_customer") == (
        sk,
        False,
        "NL",
    )
    assert daily(wh) == [(20260105, "NL", 1, 0, 0, Decimal("12.00"))]
    assert one(wh, "SELECT count(*) FROM dw.current_customers") == 1
    assert_summaries_consistent(wh)


def test_lines_before_their_order_and_product(wh: psycopg.Connection, apply: Applier) -> None:
    apply(item(100, 3, oid=10, pid=9, qty=4))
    assert daily(wh) == []
    assert one(wh, "SELECT is_inferred FROM dw.dim_product WHERE product_id = 9") is True

    apply(customer(1, 1), order(10, 2, total="40.00"))
    assert daily(wh) == [(20260105, "DE", 1, 0, 4, Decimal("40.00"))]
    assert one(wh, "SELECT item_quantity FROM dw.fact_orders") == 4
    assert_summaries_consistent(wh)


def test_the_reference_check_finds_a_dangling_key(wh: psycopg.Connection, apply: Applier) -> None:
    apply(customer(1, 1), order(10, 2), product(9, 1), item(100, 3, oid=10, pid=9))
    assert_summaries_consistent(wh)
    wh.execute("UPDATE dw.fact_orders SET customer_sk = customer_sk + 1000, date_key = 19000101")
    wh.execute("UPDATE dw.fact_order_items SET product_sk = product_sk + 1000")
    assert dangling(wh) == {
        "fact_orders.customer_sk": 1,
        "fact_orders.date_key": 1,
        "fact_order_items.product_sk": 1,
    }


def test_a_fenced_batch_changes_nothing(wh: psycopg.Connection, apply: Applier) -> None:
    apply(customer(1, 1), order(10, 2))
    before = wh.execute("SELECT * FROM dw.etl_offsets ORDER BY topic").fetchall()
    batch = ChangeBatch()
    batch.add("curated.orders", 0, 1, json.dumps(order(11, 3)).encode())

    with pytest.raises(Fenced):
        apply_batch(wh, batch, {("curated.orders", 0): 0}, "zombie")  # stored is 2, not 0

    assert wh.execute("SELECT * FROM dw.etl_offsets ORDER BY topic").fetchall() == before
    assert one(wh, "SELECT count(*) FROM dw.fact_orders") == 1
    assert one(wh, "SELECT count(*) FROM dw.etl_load_audit") == 1


def test_rejected_records_are_counted_not_loaded(wh: psycopg.Connection) -> None:
    batch = ChangeBatch()
    batch.add("curated.orders", 0, 0, b"{not json")
    batch.add("curated.orders", 0, 1, b'{"entity": "orders"}')
    batch.add("curated.orders", 0, 2, None)  # a tombstone moves the offset, loads nothing
    result = apply_batch(wh, batch, {("curated.orders", 0): None}, "unit-test")

    assert (result.rows_in, result.rejected, result.applied, result.stale) == (2, 2, 0, 0)
    assert one(wh, "SELECT next_offset FROM dw.etl_offsets") == 3


def _state(conn: psycopg.Connection) -> dict[str, list[tuple]]:
    return {
        "orders": conn.execute(
            "SELECT order_id, status, total_amount, item_quantity, is_deleted,"
            " version FROM dw.fact_orders ORDER BY 1"
        ).fetchall(),
        "items": conn.execute("SELECT * FROM dw.current_order_items ORDER BY 1").fetchall(),
        "customers": conn.execute(
            "SELECT customer_id, country, version, is_current, is_inferred"
            " FROM dw.dim_customer ORDER BY 1, version"
        ).fetchall(),
        "daily": daily(conn),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_replaying_everything_shuffled_changes_nothing(
    wh: psycopg.Connection, apply: Applier, seed: int
) -> None:
    rng = random.Random(seed)
    records = change_history(rng, orders=24)
    for start in range(0, len(records), 17):  # in order, in uneven batches
        apply(*records[start : start + 17])
    expected = _state(wh)
    assert_summaries_consistent(wh)

    replay = records[:]
    rng.shuffle(replay)
    for start in range(0, len(replay), 23):
        assert apply(*replay[start : start + 23]).applied == 0

    assert _state(wh) == expected
    assert one(wh, "SELECT sum(applied) FROM dw.etl_load_audit") == len(
        {(r["entity"], r["version"]) for r in records}
    )
