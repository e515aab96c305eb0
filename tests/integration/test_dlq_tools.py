"""`etl dlq list` and `etl dlq replay` on the running pipeline, after a real fix of each stage.

Transform: the shop starts using an order status the pipeline does not know ('refunded'); the
transform dead-letters those changes (`status_allowed`). The fix is configuration
(`ETL_ORDER_STATUSES`, then `etl up` restarts the transform); the replay sends the originals
through the transform again. Loader: the warehouse refuses a customer (a CHECK constraint); the fix
drops the constraint; the replay sends the curated record to the loader again.

After each: the warehouse equals the source, and a second replay (`--again`) applies nothing.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

from etl.rules import ORDER_STATUSES
from etl.settings import Settings
from tests.fixtures.kafka import collect, end_offsets
from tests.fixtures.stack import etl_cli
from tests.fixtures.warehouse import describe, reconcile_json

pytestmark = pytest.mark.integration

NEW_STATUS = "refunded"
STATUS_CHECK = "orders_status_check"
REFUSED_NAME = "Refused by the warehouse"


def source(settings: Settings, statement: str, *params: object) -> list[tuple]:
    with psycopg.connect(settings.source_dsn()) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


def new_customer(settings: Settings, name: str) -> int:
    return source(
        settings,
        "INSERT INTO customers (email, full_name, country) VALUES (%s, %s, 'FR')"
        " RETURNING customer_id",
        f"{secrets.token_hex(6)}@example.org",
        name,
    )[0][0]


def allow_in_source(settings: Settings, statuses: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{s}'" for s in statuses)
    source(
        settings,
        f"ALTER TABLE orders DROP CONSTRAINT {STATUS_CHECK},"
        f" ADD CONSTRAINT {STATUS_CHECK} CHECK (status IN ({allowed}))",
    )


def etl_up_with(**variables: str) -> None:
    """`etl up` under changed settings: supervisord restarts the programs whose config changed."""
    env = {k: v for k, v in os.environ.items() if k not in variables}
    env.update({k: v for k, v in variables.items() if v})
    etl_cli("up", env=env)


def dlq_json(*args: str) -> dict:
    return json.loads(etl_cli("dlq", *args, "--json").stdout)


def key_of(text: str | None) -> dict | None:
    return json.loads(text) if text else None


def letters_for(settings: Settings, start: dict[int, int], keys: list[dict], stage: str) -> None:
    """Wait until the DLQ topic holds a dead letter of `stage` for every key in `keys`."""

    def seen_all(records: list) -> bool:
        found = [
            key_of(r.value["original"]["key_text"])
            for r in records
            if r.value and r.value.get("stage", "transform") == stage
        ]
        return all(k in found for k in keys)

    collect(settings, settings.dlq_topic, start, until=seen_all, timeout_s=300)


def assert_matches_source(settings: Settings, orders: list[int]) -> None:
    code, result = reconcile_json(wait_s=300)
    assert result["match"] is True and code == 0, describe(result)
    with psycopg.connect(settings.warehouse_dsn()) as wh:
        stored = dict(
            wh.execute(
                "SELECT order_id, status FROM dw.current_orders WHERE order_id = ANY(%s)",
                (orders,),
            ).fetchall()
        )
    expected = dict(
        source(settings, "SELECT order_id, status FROM orders WHERE order_id = ANY(%s)", orders)
    )
    assert stored == expected


def applied_since(settings: Settings, since: datetime) -> tuple[int, int]:
    """(applied, skipped_stale) of the loader's batches committed since `since`."""
    with psycopg.connect(settings.warehouse_dsn()) as wh:
        row = wh.execute(
            "SELECT coalesce(sum(applied), 0), coalesce(sum(skipped_stale), 0)"
            " FROM dw.etl_load_audit WHERE committed_at > %s",
            (since,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def wait_for_stale(settings: Settings, since: datetime, count: int) -> tuple[int, int]:
    """The loader's batches since `since` once they skipped `count` stale changes (or 120 s)."""
    deadline = time.monotonic() + 120
    while True:
        applied, stale = applied_since(settings, since)
        if stale >= count or time.monotonic() > deadline:
            return applied, stale
        time.sleep(1)


@pytest.fixture
def new_status(pipeline: Settings) -> Iterator[Settings]:
    """The source allows 'refunded'; afterwards every such order is cancelled, the pipeline's
    statuses and the source's constraint are the defaults again."""
    allow_in_source(pipeline, (*ORDER_STATUSES, NEW_STATUS))
    try:
        yield pipeline
    finally:
        source(pipeline, "UPDATE orders SET status = 'cancelled' WHERE status = %s", NEW_STATUS)
        etl_up_with(ETL_ORDER_STATUSES="")
        allow_in_source(pipeline, ORDER_STATUSES)


def test_transform_dead_letters_replay_through_the_fixed_transform_once(new_status):
    settings = new_status
    started = datetime.now(UTC)
    start = end_offsets(settings, settings.dlq_topic)
    customer = new_customer(settings, "R")

    def order(status: str) -> int:
        return source(
            settings,
            "INSERT INTO orders (customer_id, status) VALUES (%s, %s) RETURNING order_id",
            customer,
            status,
        )[0][0]

    # updated to the new status; created in it; in it and then a known one (which loads)
    updated, created, overtaken = order("paid"), order(NEW_STATUS), order("paid")
    source(settings, "UPDATE orders SET status = %s WHERE order_id = %s", NEW_STATUS, updated)
    source(settings, "UPDATE orders SET status = %s WHERE order_id = %s", NEW_STATUS, overtaken)
    source(settings, "UPDATE orders SET status = 'delivered' WHERE order_id = %s", overtaken)
    orders = [updated, created, overtaken]
    letters_for(settings, start, [{"order_id": o} for o in orders], "transform")

    listed = dlq_json("list", "--table", "orders", "--since", started.isoformat())["dead_letters"]
    mine = [d for d in listed if key_of(d["key"])["order_id"] in orders]
    assert {key_of(d["key"])["order_id"] for d in mine} == set(orders)
    for d in mine:
        assert d["stage"] == "transform" and d["rule"] == "status_allowed"
        assert f"'{NEW_STATUS}'" in d["reason"] and d["replayed_at"] is None
        assert d["source_topic"] == settings.cdc_topic("orders")
        assert d["source_partition"] is not None and d["source_offset"] is not None
    text = etl_cli("dlq", "list", "--table", "orders", "--since", started.isoformat()).stdout
    assert "status_allowed" in text and settings.cdc_topic("orders") in text

    # the fix: the pipeline knows the status (the transform restarts with it)
    etl_up_with(ETL_ORDER_STATUSES=",".join((*ORDER_STATUSES, NEW_STATUS)))
    dry = dlq_json("replay", "--table", "orders", "--since", started.isoformat(), "--dry-run")
    assert dry["dry_run"] is True and dry["sent"] == 0
    replayed = dlq_json("replay", "--table", "orders", "--since", started.isoformat())
    assert replayed["sent"] == len(mine) - replayed["duplicates"] >= 3
    assert replayed["by_topic"] == {settings.cdc_topic("orders"): replayed["sent"]}
    assert_matches_source(settings, orders)  # 'overtaken' stays delivered: newer version wins

    again = dlq_json("replay", "--table", "orders", "--since", started.isoformat())
    assert again["sent"] == 0
    assert again["already_replayed"] == replayed["sent"] + replayed["duplicates"]
    listed = dlq_json("list", "--table", "orders", "--since", started.isoformat())["dead_letters"]
    assert all(d["replayed_at"] for d in listed if key_of(d["key"])["order_id"] in orders)

    before_again = datetime.now(UTC)
    forced = dlq_json("replay", "--table", "orders", "--since", started.isoformat(), "--again")
    assert forced["sent"] == replayed["sent"]
    applied, stale = wait_for_stale(settings, before_again, forced["sent"])
    assert applied == 0 and stale >= forced["sent"], "a replayed change was applied twice"
    assert_matches_source(settings, orders)


@pytest.fixture
def refusing_warehouse(pipeline: Settings) -> Iterator[Settings]:
    with psycopg.connect(pipeline.warehouse_dsn()) as wh:
        wh.execute(
            "ALTER TABLE dw.dim_customer ADD CONSTRAINT test_refuse"
            f" CHECK (full_name IS DISTINCT FROM '{REFUSED_NAME}') NOT VALID"
        )
    try:
        yield pipeline
    finally:
        with psycopg.connect(pipeline.warehouse_dsn()) as wh:
            wh.execute("ALTER TABLE dw.dim_customer DROP CONSTRAINT IF EXISTS test_refuse")


def test_loader_dead_letters_replay_to_the_loader_after_the_warehouse_is_fixed(
    refusing_warehouse,
):
    settings = refusing_warehouse
    started = datetime.now(UTC)
    start = end_offsets(settings, settings.dlq_topic)
    customer = new_customer(settings, REFUSED_NAME)
    key = {"customer_id": customer}
    letters_for(settings, start, [key], "loader")
    listed = dlq_json("list", "--stage", "loader", "--since", started.isoformat())
    (letter,) = [d for d in listed["dead_letters"] if key_of(d["key"]) == key]
    assert letter["rule"] == "warehouse" and "23514" in letter["reason"]
    assert letter["source_topic"] == settings.curated_topic("customers")

    with psycopg.connect(settings.warehouse_dsn()) as wh:  # the fix
        wh.execute("ALTER TABLE dw.dim_customer DROP CONSTRAINT test_refuse")
    replayed = dlq_json("replay", "--stage", "loader", "--since", started.isoformat())
    assert replayed["sent"] == 1 and replayed["by_topic"] == {
        settings.curated_topic("customers"): 1
    }
    code, result = reconcile_json(wait_s=300)
    assert result["match"] is True and code == 0, describe(result)
    with psycopg.connect(settings.warehouse_dsn()) as wh:
        current = wh.execute(
            "SELECT full_name FROM dw.current_customers WHERE customer_id = %s", (customer,)
        ).fetchall()
        versions = wh.execute(
            "SELECT count(*) FROM dw.dim_customer WHERE customer_id = %s AND full_name = %s",
            (customer, REFUSED_NAME),
        ).fetchone()
    # loaded once: one version row (an id the source reused after TRUNCATE ... RESTART IDENTITY
    # in an earlier test keeps its older, deleted versions beside it)
    assert current == [(REFUSED_NAME,)] and versions == (1,)


def test_dlq_commands_explain_bad_options(pipeline):
    bad = etl_cli("dlq", "list", "--since", "yesterday", check=False)
    assert bad.returncode == 1 and "--since 'yesterday'" in bad.stderr
    bad = etl_cli("dlq", "replay", "--stage", "spark", check=False)
    assert bad.returncode == 1 and "--stage 'spark'" in bad.stderr
    assert "replay" in etl_cli("dlq", "--help").stdout
