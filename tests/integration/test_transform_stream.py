"""The transform job (`python -m jobs.transform`, a real Spark driver) on the genuine stack.

Each job runs in its own process group under `<stack ETL_HOME>/transform-tests/<name>` (its own
checkpoint and progress file) and writes to its own curated topics and DLQ, so tests do not
see each other's output. They read the shared CDC topics from the beginning, like a fresh
deployment would.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import psycopg
import pytest
from confluent_kafka import Producer

from etl.progress import TransformProgress
from etl.settings import Settings
from tests.fixtures.kafka import Record, collect
from tests.fixtures.transform import TransformJob, running, transform_job
from tests.unit.jobs.envelopes import envelope, row

pytestmark = pytest.mark.integration

FLOW_TIMEOUT_S = 300.0


@pytest.fixture(scope="module")
def job(stack: Settings) -> Iterator[TransformJob]:
    """A running transform shared by this module's flow tests; stopped with SIGTERM after."""
    with running(transform_job(stack, f"flow-{uuid.uuid4().hex[:6]}")) as flow:
        yield flow


@pytest.fixture
def source(stack: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(stack.source_dsn(), autocommit=True) as conn:
        yield conn


def current_lsn(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT (pg_current_wal_lsn() - '0/0')::bigint").fetchone()[0]


def new_customer(conn: psycopg.Connection, **columns: str) -> int:
    names = ["email", "full_name", "country", *columns]
    values = [f"t{uuid.uuid4().hex}@example.com", "Zoë Ærø 山田", "DE", *columns.values()]
    sql = (
        f"INSERT INTO customers ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
        " RETURNING customer_id"
    )
    return conn.execute(sql, values).fetchone()[0]


def new_order(conn: psycopg.Connection, total: str = "25.00") -> int:
    with conn.transaction():
        cid = new_customer(conn)
        return conn.execute(
            "INSERT INTO orders (customer_id, total_amount) VALUES (%s, %s) RETURNING order_id",
            (cid, Decimal(total)),
        ).fetchone()[0]


def keyed(name: str, value: int) -> Callable[[Record], bool]:
    return lambda r: r.key == {name: value}


def collect_for(
    settings: Settings, topic: str, match: Callable[[Record], bool], count: int
) -> list[Record]:
    """The first `count` records of `topic` (from the beginning) that `match`."""
    records = collect(
        settings, topic, None, lambda rs: sum(map(match, rs)) >= count, timeout_s=FLOW_TIMEOUT_S
    )
    return [r for r in records if match(r)]


def test_source_changes_reach_curated_topics_with_their_lsn(job, source, stack):
    settings = job.settings
    lsn_before = current_lsn(source)
    cid = new_customer(source)
    pid = source.execute(
        "INSERT INTO products (sku, name, category, unit_price) VALUES (%s, 'Ünïcode ✓', 'c',"
        " 12.50) RETURNING product_id",
        (uuid.uuid4().hex,),
    ).fetchone()[0]
    with source.transaction():
        oid = source.execute(
            "INSERT INTO orders (customer_id, total_amount) VALUES (%s, 25.00) RETURNING order_id",
            (cid,),
        ).fetchone()[0]
        iid = source.execute(
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
            " VALUES (%s, %s, 2, 12.50) RETURNING order_item_id",
            (oid, pid),
        ).fetchone()[0]
    source.execute("UPDATE orders SET status = 'paid' WHERE order_id = %s", (oid,))
    source.execute("DELETE FROM orders WHERE order_id = %s", (oid,))  # cascades to the item
    lsn_after = current_lsn(source)

    orders = [
        r.value
        for r in collect_for(settings, settings.curated_topic("orders"), keyed("order_id", oid), 3)
    ]
    assert [(o["op"], o["deleted"], o["data"]["status"]) for o in orders] == [
        ("c", False, "pending"),
        ("u", False, "paid"),
        ("d", True, "paid"),
    ]
    assert orders[2]["data"]["total_amount"] == "25.00"  # last state, decimal string
    versions = [o["version"] for o in orders]
    assert lsn_before < versions[0] < versions[1] < versions[2] <= lsn_after
    cdc = collect_for(stack, stack.cdc_topic("orders"), keyed("order_id", oid), 3)
    assert versions == [r.value["source"]["lsn"] for r in cdc]
    assert [o["tx_id"] for o in orders] == [r.value["source"]["txId"] for r in cdc]

    items = [
        r.value
        for r in collect_for(
            settings, settings.curated_topic("order_items"), keyed("order_item_id", iid), 2
        )
    ]
    assert [(i["op"], i["data"]["quantity"], i["data"]["unit_price"]) for i in items] == [
        ("c", 2, "12.50"),
        ("d", 2, "12.50"),
    ]
    assert items[0]["tx_id"] == orders[0]["tx_id"]  # one source transaction
    (customer,) = collect_for(
        settings, settings.curated_topic("customers"), keyed("customer_id", cid), 1
    )
    assert customer.value["data"]["full_name"] == "Zoë Ærø 山田"
    (product,) = collect_for(
        settings, settings.curated_topic("products"), keyed("product_id", pid), 1
    )
    assert product.value["data"]["name"] == "Ünïcode ✓"

    progress = job.wait_batch_progress()  # real-time mode: once the first interval has ended
    for name in (
        "timestamp",
        "batchId",
        "inputRowsPerSecond",
        "processedRowsPerSecond",
        "durationMs",
        "numInputRows",
        "endOffsets",
    ):
        assert name in progress
    assert stack.cdc_topic("orders") in progress["endOffsets"]


def test_bad_messages_go_to_the_dlq_while_good_ones_keep_flowing(job, source, stack):
    settings = job.settings
    topic = stack.cdc_topic("order_items")
    item_id = 10**15 + int(uuid.uuid4().int % 10**9)
    bad = {
        "malformed": (b'{"order_item_id": 1}', b'{"before": null, "after": {'),
        "quantity_positive": (
            json.dumps({"order_item_id": item_id}).encode(),
            json.dumps(
                envelope("order_items", after=row("order_items", order_item_id=item_id, quantity=0))
            ).encode(),
        ),
    }
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap})
    delivered: dict[str, tuple[int, int]] = {}
    for rule, (key, value) in bad.items():
        producer.produce(
            topic,
            value,
            key,
            on_delivery=lambda err, msg, rule=rule: delivered.__setitem__(
                rule, (msg.partition(), msg.offset())
            ),
        )
    assert producer.flush(30) == 0
    oid = new_order(source)  # a good change after the bad ones

    def mine(r: Record) -> bool:
        src = r.value["source"]
        return (src["topic"], src["partition"], src["offset"]) in {
            (topic, *position) for position in delivered.values()
        }

    letters = {r.value["rule"]: r for r in collect_for(settings, settings.dlq_topic, mine, 2)}
    assert set(letters) == set(bad)
    for rule, (key, value) in bad.items():
        letter = letters[rule]
        assert letter.key == json.loads(key)  # the DLQ message keeps the original key
        assert base64.b64decode(letter.value["original"]["value_base64"]) == value
        assert letter.value["original"]["value_text"] == value.decode()
        assert letter.value["entity"] == "order_items"
        assert (letter.value["source"]["partition"], letter.value["source"]["offset"]) == (
            delivered[rule]
        )
    assert letters["quantity_positive"].value["reason"] == "after.quantity must be > 0, got '0'"
    (good,) = collect_for(settings, settings.curated_topic("orders"), keyed("order_id", oid), 1)
    assert good.value["op"] == "c"
    job.assert_alive()


def test_a_new_nullable_source_column_does_not_stop_the_job(job, source):
    settings = job.settings
    source.execute("ALTER TABLE customers ADD COLUMN nickname text")
    try:
        cid = new_customer(source, nickname="Zo")
        (record,) = collect_for(
            settings, settings.curated_topic("customers"), keyed("customer_id", cid), 1
        )
    finally:
        source.execute("ALTER TABLE customers DROP COLUMN nickname")
    assert "nickname" not in record.value["data"]
    assert record.value["data"]["country"] == "DE"
    job.assert_alive()


def test_sigkill_and_restart_lose_no_change(stack, source):
    """Kafka's ProduceConsumeValidate pattern: load in the background, crash the job mid-way,
    restart it on its checkpoint, then every committed change must be on the curated topic."""
    crashing = transform_job(stack, f"restart-{uuid.uuid4().hex[:6]}")
    crashing.start()
    crashing.wait_running()
    orders: list[int] = []
    stop_load = threading.Event()

    def load() -> None:
        with psycopg.connect(stack.source_dsn(), autocommit=True) as conn:
            while not stop_load.is_set() and len(orders) < 400:
                orders.append(new_order(conn))
                time.sleep(0.02)  # pacing the load, not waiting for anything

    loader = threading.Thread(target=load)
    loader.start()
    try:
        curated = crashing.settings.curated_topic("orders")
        # Crash only once the job demonstrably processes this load.
        collect(
            crashing.settings,
            curated,
            None,
            lambda rs: len({r.key["order_id"] for r in rs} & set(orders)) >= 5,
            timeout_s=FLOW_TIMEOUT_S,
        )
        crashing.kill()
    finally:
        stop_load.set()
        loader.join()
    expected = set(orders)
    previous = json.loads(TransformProgress.path(crashing.settings).read_text())
    restarted = TransformJob(crashing.name, crashing.settings, crashing.env)
    restarted.start()
    try:
        # before its first batch ends (a checkpoint interval later), the job says it runs
        first = restarted.wait_running()
        assert first["batchId"] is None and first["queryId"] == previous["queryId"]
        assert re.fullmatch(r"first batch running \((\d+)/\1 tasks\)", first["status"])
        records = collect(  # the whole topic: records written before the crash count too
            crashing.settings,
            curated,
            None,
            lambda rs: expected <= {r.key["order_id"] for r in rs},
            timeout_s=FLOW_TIMEOUT_S,
        )
        created = [r.key["order_id"] for r in records if r.value["op"] == "c"]
        mine = [o for o in created if o in expected]
        assert set(mine) == expected
        print(f"\n{len(expected)} orders, {len(mine) - len(expected)} duplicates after SIGKILL")
        assert restarted.terminate() == 0
        assert '"msg": "transform stopped"' in restarted.log.read_text()
    finally:
        if restarted.proc and restarted.proc.poll() is None:
            os.killpg(restarted.proc.pid, signal.SIGKILL)
