"""The loader on the source's corner cases: unchanged TOASTed values, TRUNCATE, and changes the
warehouse refuses (docs/corner-cases.md)."""

from __future__ import annotations

import random
from decimal import Decimal
from itertools import count

import psycopg
import pytest

from loaders.apply import apply_batch
from loaders.batch import ChangeBatch
from loaders.dead_letters import DeadLetter, refusal_reason, refused_by_warehouse
from tests.unit.loaders.conftest import Applier
from tests.unit.loaders.records import BASE_MS, change, customer, item, order, product
from tests.unit.loaders.test_apply_sql import assert_summaries_consistent, drained_unevenly, one

pytestmark = pytest.mark.unit


def unchanged(record: dict, *columns: str) -> dict:
    """`record` as an update whose `columns` PostgreSQL did not send (unchanged TOASTed)."""
    for column in columns:
        record["data"][column] = None
    return {**record, "unchanged": list(columns)}


def truncate(entity: str, version: int) -> dict:
    record = change(entity, 0, version, op="t")
    return {**record, "key": {k: None for k in record["key"]}, "data": {}}


def current(conn: psycopg.Connection, view: str) -> list[tuple]:
    return conn.execute(f"SELECT * FROM dw.current_{view} ORDER BY 1").fetchall()


def test_unchanged_value_keeps_the_stored_one(wh: psycopg.Connection, apply: Applier) -> None:
    long_name = "x" * 9000
    apply(customer(1, 1, full_name=long_name))
    apply(unchanged(customer(1, 5, country="FR"), "full_name"))
    rows = wh.execute(
        "SELECT full_name, country, is_current FROM dw.dim_customer ORDER BY version"
    ).fetchall()
    assert rows == [(long_name, "DE", False), (long_name, "FR", True)]


def test_unchanged_chain_in_one_batch_takes_the_latest_sent_value(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(
        customer(1, 1, full_name="A"),
        customer(1, 2, full_name="B"),
        unchanged(customer(1, 3, country="FR"), "full_name"),
        unchanged(customer(1, 4, country="NL"), "full_name", "email"),
    )
    assert wh.execute(
        "SELECT version, full_name, email FROM dw.dim_customer ORDER BY version"
    ).fetchall() == [(1, "A", "c1@example.org"), (2, "B", "c1@example.org"),
                     (3, "B", "c1@example.org"), (4, "B", "c1@example.org")]  # fmt: skip


def test_unchanged_prefers_the_warehouse_over_an_older_replayed_version(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(product(1, 1), {**product(1, 2), "data": {**product(1, 2)["data"], "name": "New"}})
    replayed = product(1, 1)
    apply(replayed, unchanged(product(1, 3, price="11.00"), "name"))
    assert one(wh, "SELECT name FROM dw.current_products") == "New"


def test_unchanged_fact_column_in_a_batch_after_its_change(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(customer(1, 1), order(10, 2, status="pending"))
    apply(order(10, 3, status="paid"), unchanged(order(10, 4, total="25.00"), "status"))
    assert one(wh, "SELECT status, total_amount FROM dw.current_orders") == ("paid", 25)
    assert_summaries_consistent(wh)


def test_truncate_deletes_every_older_row_and_the_summaries_follow(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(customer(1, 1), product(1, 2), order(10, 3), item(100, 4, 10), item(101, 5, 10, qty=3))
    result = apply(truncate("order_items", 6), item(102, 7, 10, qty=1))
    assert result.truncations == 1
    assert [r[0] for r in current(wh, "order_items")] == [102]
    assert one(wh, "SELECT items FROM dw.agg_daily_sales") == 1
    assert_summaries_consistent(wh)


def test_a_change_older_than_a_truncate_arriving_later_is_deleted_as_of_it(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(customer(1, 1), order(10, 2), truncate("orders", 5))
    apply(order(11, 3), order(10, 4, status="paid"), order(12, 6))
    assert [r[0] for r in current(wh, "orders")] == [12]
    assert_summaries_consistent(wh)


def test_a_row_inserted_late_before_a_known_truncate_leaves_no_member_behind(
    wh: psycopg.Connection, apply: Applier
) -> None:
    """Found by the corner-case suite: a customer inserted just before TRUNCATE ... CASCADE
    reached the loader after the customers' truncate, and its order before the orders' one.
    The late insert was applied as a delete at its own LSN, so the order (newer than that)
    looked like a reused id's and got an inferred member, which nothing ever removed."""
    apply(truncate("customers", 9))
    apply(customer(1, 6, country="DE", op="c"))  # older than the truncate the warehouse knows
    apply(order(10, 7))  # placed by it; the orders' truncate has not arrived
    assert one(wh, "SELECT country FROM dw.agg_daily_sales_by_country") == "DE"
    apply(truncate("orders", 9))
    assert current(wh, "customers") == current(wh, "orders") == []
    assert one(wh, "SELECT count(*) FROM dw.dim_customer WHERE is_inferred") == 0
    assert wh.execute("SELECT version, is_deleted FROM dw.dim_customer").fetchall() == [(9, True)]
    assert_summaries_consistent(wh)


def truncate_cycles(cycles: int) -> list[dict]:
    """`TRUNCATE customers, products RESTART IDENTITY CASCADE` after each of `cycles` rounds, each
    round with fewer customers than the one before (so the last ids of a round never come
    back), each customer with one order and one line of product 1; then a last round of two
    customers (FR and NL), which stays. Versions increase in commit order."""
    records: list[dict] = []
    version = count(1)
    tables = ("customers", "products", "orders", "order_items")
    for cycle in range(cycles + 1):
        last = cycle == cycles
        records.append(product(1, next(version), op="c"))
        for cid in range(1, cycles - cycle + 3):
            country = ("FR" if cid == 1 else "NL") if last else f"C{cycle}"
            records += [
                customer(cid, next(version), country=country, op="c"),
                order(10 + cid, next(version), cid=cid, op="c"),
                item(100 + cid, next(version), 10 + cid, op="c"),
            ]
        if not last:
            at = next(version)
            records += [truncate(t, at) for t in tables]
    return records


@pytest.mark.parametrize("seed", range(16))
def test_any_drain_order_around_truncates_leaves_exactly_the_last_round(
    wh: psycopg.Connection, apply: Applier, seed: int
) -> None:
    """Each table's truncates reach the loader on one partition, the rows on others, drained at
    any speed: the warehouse ends with the last round only, no member left inferred, each
    order counted under its customer's country."""
    records = truncate_cycles(cycles=3)
    for batch in drained_unevenly(random.Random(seed), records):
        apply(*batch)
    assert [r[0] for r in current(wh, "customers")] == [1, 2]
    assert [r[0] for r in current(wh, "orders")] == [11, 12]
    assert [r[0] for r in current(wh, "order_items")] == [101, 102]
    assert [r[0] for r in current(wh, "products")] == [1]
    for table in ("dim_customer", "dim_product"):
        assert one(wh, f"SELECT count(*) FROM dw.{table} WHERE is_current AND is_inferred") == 0
    assert wh.execute(
        "SELECT country, orders FROM dw.agg_daily_sales_by_country ORDER BY 1"
    ).fetchall() == [("FR", 1), ("NL", 1)]
    assert_summaries_consistent(wh)


def test_truncate_of_parents_then_reinsert_with_the_same_ids(
    wh: psycopg.Connection, apply: Applier
) -> None:
    """TRUNCATE customers, orders, order_items RESTART IDENTITY: the ids come back as new rows,
    and an order of a re-inserted customer counts under its new country."""
    apply(customer(1, 1, country="DE"), product(1, 2), order(10, 3), item(100, 4, 10))
    apply(*(truncate(t, 5) for t in ("customers", "orders", "order_items")))
    assert current(wh, "customers") == current(wh, "orders") == current(wh, "order_items") == []
    apply(customer(1, 6, country="FR"), order(10, 7), item(100, 8, 10))
    assert one(wh, "SELECT country FROM dw.current_customers") == "FR"
    assert one(wh, "SELECT country FROM dw.agg_daily_sales_by_country") == "FR"
    assert_summaries_consistent(wh)


def test_an_order_of_a_reinserted_customer_arriving_first_counts_under_the_new_country(
    wh: psycopg.Connection, apply: Applier
) -> None:
    apply(customer(1, 1, country="DE"), order(10, 2))
    apply(*(truncate(t, 5) for t in ("customers", "orders")))
    apply(order(10, 7))  # before the new customer 1
    apply(customer(1, 6, country="FR"))
    assert one(wh, "SELECT country FROM dw.agg_daily_sales_by_country") == "FR"
    assert one(wh, "SELECT count(*) FROM dw.dim_customer WHERE is_current") == 1
    assert_summaries_consistent(wh)


def test_an_order_overtaking_the_truncate_and_its_new_customer_counts_under_the_new_country(
    wh: psycopg.Connection, apply: Applier
) -> None:
    """docs/corner-cases.md: the order of the customer re-inserted after TRUNCATE ... RESTART
    IDENTITY reaches the warehouse before the truncate and the new customer row do."""
    apply(customer(1, 1, country="DE"), order(10, 2, total="10.00"))
    apply(order(11, 7, total="7.00"))  # placed by the new customer 1
    apply(*(truncate(t, 5) for t in ("customers", "orders")))
    apply(customer(1, 6, country="FR"))
    assert wh.execute(
        "SELECT country, orders, revenue FROM dw.agg_daily_sales_by_country"
    ).fetchall() == [("FR", 1, Decimal("7.00"))]
    assert_summaries_consistent(wh)


@pytest.mark.parametrize("one_batch", [False, True])
def test_an_order_id_reused_before_its_truncate_arrives_counts_under_the_new_customer(
    wh: psycopg.Connection, apply: Applier, one_batch: bool
) -> None:
    """RESTART IDENTITY reuses order 10 and customer 1; the re-insert reaches the warehouse before
    the TRUNCATE (another partition): the insert alone says it is a new order."""
    apply(customer(1, 1, country="DE", op="c"))
    first, again = order(10, 2, total="10.00", op="c"), order(10, 8, total="7.00", op="c")
    if one_batch:
        apply(first, again)
    else:
        apply(first)
        apply(again)
    apply(customer(1, 6, country="FR", op="c"))
    apply(*(truncate(t, 5) for t in ("customers", "orders")))
    assert wh.execute(
        "SELECT country, orders, revenue FROM dw.agg_daily_sales_by_country"
    ).fetchall() == [("FR", 1, Decimal("7.00"))]
    assert_summaries_consistent(wh)


def test_a_replayed_truncate_changes_nothing(wh: psycopg.Connection, apply: Applier) -> None:
    apply(customer(1, 1), truncate("customers", 2), customer(2, 3))
    before = current(wh, "customers")
    apply(truncate("customers", 2))
    assert current(wh, "customers") == before and [r[0] for r in before] == [2]


def test_warehouse_refusal_is_recognised(wh: psycopg.Connection, apply: Applier) -> None:
    """quantity * unit_price beyond numeric(14,2): legal in the source, refused here."""
    with pytest.raises(psycopg.Error) as caught:
        apply(item(100, 1, 10, qty=2_147_483_647, price="9999999999.99"))
    assert refused_by_warehouse(caught.value)
    assert "SQLSTATE 22003" in refusal_reason(caught.value)
    assert not refused_by_warehouse(psycopg.OperationalError("connection lost"))


def test_a_refused_record_is_recorded_and_its_offset_moves(wh: psycopg.Connection) -> None:
    batch = ChangeBatch()
    letter = DeadLetter(
        "curated.order_items", 2, 41, b'{"order_item_id": 5}', b"{}", BASE_MS,
        "warehouse", "numeric field overflow (SQLSTATE 22003)", "order_items", 7,
    )  # fmt: skip
    batch.refuse(letter)
    result = apply_batch(wh, batch, {("curated.order_items", 2): None}, "unit-test")
    assert (result.rows_in, result.dead_lettered, result.applied, result.stale) == (1, 1, 0, 0)
    assert one(wh, "SELECT next_offset FROM dw.etl_offsets") == 42
    assert one(wh, 'SELECT entity, record_key, "offset", rule FROM dw.etl_dead_letters') == (
        "order_items",
        '{"order_item_id": 5}',
        41,
        "warehouse",
    )
    assert one(wh, "SELECT dead_lettered FROM dw.etl_load_audit") == 1


def test_malformed_records_become_dead_letters(wh: psycopg.Connection) -> None:
    batch = ChangeBatch()
    batch.add("curated.orders", 0, 0, b"{not json", key=b'{"order_id": 1}')
    assert [(d.rule, d.offset, d.key_text) for d in batch.dead_letters] == [
        ("malformed", 0, '{"order_id": 1}')
    ]
    result = apply_batch(wh, batch, {("curated.orders", 0): None}, "unit-test")
    assert (result.rejected, result.dead_lettered) == (1, 1)
