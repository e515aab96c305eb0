"""Set up, compare, time and tear down the load tests' peers against a running stack.

A peer copies the captured source tables 1:1 into its own database on the warehouse server
(`infra.peers` says what each peer is and how it is configured). Everything here is idempotent:
`setup_peer` on a peer that exists changes nothing, `teardown_peer` on one that is gone does
nothing. Teardown never leaves a replication slot on the source (a forgotten slot pins WAL until
the disk fills): it drops the subscription or connectors first, then any slot still named for
the peer, then the peer's publication, topics and connector offsets.

`peer_latency` times what `etl bench latency` times for the pipeline (source COMMIT to the row in
the target, with the same orders and polling), so the figures compare one to one.
"""

from __future__ import annotations

import time

import psycopg
from confluent_kafka.admin import AdminClient
from psycopg import sql

from app.bench import LatencyResult, MarkerTarget, Progress, no_progress, time_marker_orders
from etl.connector import ConnectClient
from etl.errors import EtlError
from etl.settings import Settings, maintenance_dsn
from etl.tables import CAPTURED, SOURCE_SCHEMA
from infra.local.bootstrap import create_database
from infra.peers import (
    Peer,
    jdbc_heartbeat_topic,
    jdbc_sink_connector_config,
    jdbc_sink_connector_name,
    jdbc_slot,
    jdbc_source_connector_config,
    jdbc_source_connector_name,
    jdbc_topics,
    logical_publication,
    logical_subscription,
    logical_subscription_conninfo,
    peer_database,
    peer_table_ddl,
)
from loaders.entities import ENTITIES
from loaders.reconcile import SideSummary, source_side

_PRODUCT = "SELECT 1 FROM public.products WHERE product_id = %s"
#: The marker order's own row, not an older order of the same id (ids come again after
#: `TRUNCATE ... RESTART IDENTITY`, which the JDBC sink does not apply): a peer's copy keeps no
#: LSN, but the source's `updated_at`, set to the marker transaction's start.
_ORDER = (
    "SELECT 1 FROM public.orders WHERE order_id = %(order_id)s AND updated_at >= %(started_at)s"
)


def peer_dsn(settings: Settings, peer: Peer) -> str:
    """The peer's database, on the warehouse server."""
    return settings.warehouse_dsn().rsplit("/", 1)[0] + "/" + peer_database(peer)


def _connect(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def _database_exists(settings: Settings, peer: Peer) -> bool:
    with _connect(maintenance_dsn(settings.warehouse_dsn())) as conn:
        query = "SELECT 1 FROM pg_database WHERE datname = %s"
        return conn.execute(query, (peer_database(peer),)).fetchone() is not None


def _create_tables(settings: Settings, peer: Peer) -> None:
    create_database(maintenance_dsn(settings.warehouse_dsn()), peer_database(peer))
    with _connect(peer_dsn(settings, peer)) as conn:
        for table in CAPTURED:
            conn.execute(peer_table_ddl(table).encode())


# --------------------------------------------------------------------------- set up


def setup_peer(settings: Settings, peer: Peer) -> None:
    """Create the peer's database, tables and replication; it then copies what the source has."""
    _create_tables(settings, peer)
    if peer == "logical":
        _setup_logical(settings)
    else:
        _setup_jdbc(settings)


def _setup_logical(settings: Settings) -> None:
    publication = sql.Identifier(logical_publication(settings))
    tables = sql.SQL(", ").join(sql.Identifier(SOURCE_SCHEMA, t.name) for t in CAPTURED)
    with _connect(settings.source_dsn()) as src:
        query = "SELECT 1 FROM pg_publication WHERE pubname = %s"
        verb = "ALTER PUBLICATION {} SET TABLE {}"
        if not src.execute(query, (logical_publication(settings),)).fetchone():
            verb = "CREATE PUBLICATION {} FOR TABLE {}"
        src.execute(sql.SQL(verb).format(publication, tables))
    name = logical_subscription(settings)
    with _connect(peer_dsn(settings, "logical")) as conn:
        if conn.execute("SELECT 1 FROM pg_subscription WHERE subname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("ALTER SUBSCRIPTION {} ENABLE").format(sql.Identifier(name)))
            return
        _drop_slot(settings, name)  # a slot left by a subscription dropped without it
        conn.execute(
            sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {}").format(
                sql.Identifier(name),
                sql.Literal(logical_subscription_conninfo(settings)),
                publication,
            )
        )


def pause_logical(settings: Settings) -> None:
    """Disable the subscription (its slot stays, so nothing is lost); `setup_peer` resumes it."""
    name = logical_subscription(settings)
    with _connect(peer_dsn(settings, "logical")) as conn:
        if conn.execute("SELECT 1 FROM pg_subscription WHERE subname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(sql.Identifier(name)))


def _setup_jdbc(settings: Settings) -> None:
    client = ConnectClient(settings.connect_url)
    client.ensure_connector(
        jdbc_source_connector_name(settings), jdbc_source_connector_config(settings)
    )
    client.ensure_connector(
        jdbc_sink_connector_name(settings), jdbc_sink_connector_config(settings)
    )


# --------------------------------------------------------------------------- tear down


def teardown_peer(settings: Settings, peer: Peer, *, drop_database: bool = True) -> None:
    """Remove everything the peer made: replication first, then its slot, then its data."""
    if peer == "logical":
        _teardown_logical(settings)
    else:
        _teardown_jdbc(settings)
    if drop_database and _database_exists(settings, peer):
        with _connect(maintenance_dsn(settings.warehouse_dsn())) as conn:
            name = sql.Identifier(peer_database(peer))
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def _teardown_logical(settings: Settings) -> None:
    name = logical_subscription(settings)
    if _database_exists(settings, "logical"):
        with _connect(peer_dsn(settings, "logical")) as conn:
            if conn.execute("SELECT 1 FROM pg_subscription WHERE subname = %s", (name,)).fetchone():
                ident = sql.Identifier(name)
                try:  # drops the slot on the source too
                    conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))
                except psycopg.OperationalError:  # source unreachable: drop it without the slot
                    conn.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(ident))
                    conn.execute(
                        sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(ident)
                    )
                    conn.execute(sql.SQL("DROP SUBSCRIPTION {}").format(ident))
    _drop_slot(settings, name)
    with _connect(settings.source_dsn()) as src:
        publication = sql.Identifier(logical_publication(settings))
        src.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(publication))


def _teardown_jdbc(settings: Settings) -> None:
    client = ConnectClient(settings.connect_url)
    for name in (jdbc_sink_connector_name(settings), jdbc_source_connector_name(settings)):
        if client.stop(name):
            _wait_stopped(client, name)
            client.reset_offsets(name)  # or a new connector of this name would resume
            client.delete(name)
    _drop_slot(settings, jdbc_slot(settings))
    admin = AdminClient(settings.kafka_client_config())
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t for t in (*jdbc_topics(settings), jdbc_heartbeat_topic(settings)) if t in existing]
    for future in admin.delete_topics(doomed, operation_timeout=30).values() if doomed else []:
        future.result()


def _wait_stopped(client: ConnectClient, name: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while (client.status(name) or {}).get("connector", {}).get("state") != "STOPPED":
        if time.monotonic() > deadline:
            raise EtlError(f"connector {name} did not stop within {timeout_s:.0f} s")
        time.sleep(0.2)


def _drop_slot(settings: Settings, slot: str, timeout_s: float = 30.0) -> None:
    """Drop a replication slot on the source once no walsender holds it (waits for that)."""
    deadline = time.monotonic() + timeout_s
    query = "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s"
    with _connect(settings.source_dsn()) as src:
        while (row := src.execute(query, (slot,)).fetchone()) is not None:
            if row[0] is None:
                src.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return
            if time.monotonic() > deadline:
                raise EtlError(f"replication slot {slot} is still in use by pid {row[0]}")
            time.sleep(0.2)


def leftovers(settings: Settings, peer: Peer) -> list[str]:
    """What of the peer still exists: empty after a clean teardown."""
    found: list[str] = []
    slot = logical_subscription(settings) if peer == "logical" else jdbc_slot(settings)
    with _connect(settings.source_dsn()) as src:
        if src.execute(
            "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone():
            found.append(f"replication slot {slot}")
        pub = logical_publication(settings)
        if (
            peer == "logical"
            and src.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (pub,)).fetchone()
        ):
            found.append(f"publication {pub}")
    if peer == "logical" and _database_exists(settings, peer):
        with _connect(peer_dsn(settings, peer)) as conn:
            name = logical_subscription(settings)
            if conn.execute("SELECT 1 FROM pg_subscription WHERE subname = %s", (name,)).fetchone():
                found.append(f"subscription {name}")
    if peer == "jdbc":
        client = ConnectClient(settings.connect_url)
        for name in (jdbc_sink_connector_name(settings), jdbc_source_connector_name(settings)):
            if client.config(name) is not None:
                found.append(f"connector {name}")
    return found


# --------------------------------------------------------------------------- compare and time


def peer_state(conn: psycopg.Connection) -> dict[str, SideSummary]:
    """Per captured table (by name): rows, amount sum, row-hash sum (reconcile's tiers 1-2).

    The peer's tables have the source's names and columns, so the source's own side of the
    reconciliation reads them as they are.
    """
    conn.execute("SET TIME ZONE 'UTC'")
    return {name: source_side(conn, entity).summary() for name, entity in ENTITIES.items()}


def _key(summaries: dict[str, SideSummary]) -> list[tuple[int, str | None, str]]:
    return [(s.rows, s.amount, s.hash_sum) for s in summaries.values()]


def wait_until_equal(settings: Settings, peer: Peer, timeout_s: float = 120.0) -> float:
    """Wait until the peer's tables equal the source's (no writes meanwhile); seconds waited."""
    started = time.monotonic()
    with _connect(settings.source_dsn()) as src, _connect(peer_dsn(settings, peer)) as dst:
        want = _key(peer_state(src))
        while (got := _key(peer_state(dst))) != want:
            if time.monotonic() - started > timeout_s:
                raise EtlError(f"peer {peer} did not equal the source in {timeout_s:.0f} s: {got}")
            time.sleep(0.2)
    return time.monotonic() - started


def peer_target(conn: psycopg.Connection, peer: Peer) -> MarkerTarget:
    """A peer: a marker order has arrived once the peer's copy of `orders` has its row."""
    return MarkerTarget(peer, conn, _PRODUCT, _ORDER)


def peer_latency(
    settings: Settings,
    peer: Peer,
    orders: int,
    *,
    idle_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: Progress = no_progress,
) -> LatencyResult:
    """Commit single marker orders and time each until its row exists in the peer's database."""
    with _connect(settings.source_dsn()) as src, _connect(peer_dsn(settings, peer)) as dst:
        return time_marker_orders(src, peer_target(dst, peer), orders, idle_s, timeout_s, progress)
