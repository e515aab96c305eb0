"""The load tests' peers on the genuine stack: each copies the source 1:1 and leaves nothing behind.

Logical replication (subscription on the warehouse server) and the Debezium JDBC sink (on the
stack's Connect worker) are set up for real, fed a seeded batch of orders, checked against the
source by rows, amount and row-hash sums, sent a delete, and torn down. Waits are bounded only so
a broken peer fails instead of hanging; no speed is asserted.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from app.peers import (
    leftovers,
    peer_dsn,
    peer_latency,
    peer_state,
    setup_peer,
    teardown_peer,
    wait_until_equal,
)
from app.seed import SeedPlan, run_seed
from etl.settings import Settings, maintenance_dsn
from infra.peers import (
    PEERS,
    Peer,
    jdbc_heartbeat_topic,
    jdbc_sink_connector_config,
    jdbc_topics,
    peer_database,
)

pytestmark = pytest.mark.integration

CONVERGE_S = 180.0


@pytest.fixture(params=PEERS)
def peer(request: pytest.FixtureRequest, stack: Settings) -> Iterator[Peer]:
    name: Peer = request.param
    teardown_peer(stack, name)  # whatever an interrupted earlier run left
    setup_peer(stack, name)
    try:
        yield name
    finally:
        teardown_peer(stack, name)


def test_seeded_orders_and_a_delete_arrive_one_to_one(stack: Settings, peer: Peer) -> None:
    written = run_seed(stack.source_dsn(), SeedPlan(orders=60, seed=1212))
    wait_until_equal(stack, peer, CONVERGE_S)
    with (
        psycopg.connect(stack.source_dsn(), autocommit=True) as src,
        psycopg.connect(peer_dsn(stack, peer), autocommit=True) as dst,
    ):
        source, copy = peer_state(src), peer_state(dst)
        assert copy == source
        assert copy["orders"].rows >= written["orders"] - written["deletes"] > 0
        assert copy["order_items"].rows >= written["orders"] - written["deletes"]
        assert copy["orders"].amount == source["orders"].amount != "0.00"

        order_id = src.execute("SELECT max(order_id) FROM orders").fetchone()[0]
        items = src.execute(
            "SELECT count(*) FROM order_items WHERE order_id = %s", (order_id,)
        ).fetchone()[0]
        assert items > 0
        src.execute("DELETE FROM orders WHERE order_id = %s", (order_id,))  # items cascade
        wait_until_equal(stack, peer, CONVERGE_S)
        gone = "SELECT (SELECT count(*) FROM orders WHERE order_id = %(id)s)"
        gone += " + (SELECT count(*) FROM order_items WHERE order_id = %(id)s)"
        assert dst.execute(gone, {"id": order_id}).fetchone()[0] == 0


def test_setup_twice_changes_nothing_and_latency_orders_arrive(stack: Settings, peer: Peer) -> None:
    setup_peer(stack, peer)  # idempotent: no second subscription, slot or connector
    result = peer_latency(stack, peer, 3, idle_s=0.2)
    assert result.orders == 3 and len(result.samples_s) == 3
    assert all(s >= 0 for s in result.samples_s)
    wait_until_equal(stack, peer, CONVERGE_S)


@pytest.mark.parametrize("name", PEERS)
def test_teardown_leaves_no_slot_subscription_connector_or_topic(stack: Settings, name: Peer):
    setup_peer(stack, name)
    wait_until_equal(stack, name, CONVERGE_S)
    assert leftovers(stack, name)  # the check sees a live peer
    teardown_peer(stack, name)
    assert leftovers(stack, name) == []
    with psycopg.connect(maintenance_dsn(stack.warehouse_dsn())) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        assert conn.execute(query, (peer_database(name),)).fetchone() is None
    with psycopg.connect(stack.source_dsn()) as src:
        slots = {r[0] for r in src.execute("SELECT slot_name FROM pg_replication_slots")}
        subscriber_slots = {s for s in slots if s.startswith("pg_") and "_sync_" in s}
        assert stack.slot_name in slots and not subscriber_slots  # no tablesync slot either
        assert not {s for s in slots if "peer" in s}
    connectors = httpx.get(f"{stack.connect_url}/connectors", timeout=10).json()
    assert stack.connector_name in connectors and not [c for c in connectors if "peer" in c]
    topics = set(AdminClient(stack.kafka_client_config()).list_topics(timeout=10).topics)
    assert topics.isdisjoint([*jdbc_topics(stack), jdbc_heartbeat_topic(stack)])


def test_connect_accepts_the_sink_config_as_written(stack: Settings) -> None:
    """Every option the sink config names is one the 3.5 plugin on the worker knows."""
    cfg = {"name": "peer-validate", **jdbc_sink_connector_config(stack)}
    url = f"{stack.connect_url}/connector-plugins/{cfg['connector.class']}/config/validate"
    report = httpx.put(url, json=cfg, timeout=30).json()
    errors = [c["value"] for c in report["configs"] if c["value"]["errors"]]
    assert report["error_count"] == 0, errors
    known = {c["value"]["name"] for c in report["configs"]}
    assert {"insert.mode", "delete.enabled", "primary.key.mode", "schema.evolution"} <= known
