"""Source database set-up that depends on settings: the replication login and the publication.

Migrations hold the static schema and grant Debezium's rights to the NOLOGIN role `cdc_reader`
and the read-only role's to `shop_reader`; here the login roles named in settings join them
(Debezium's with REPLICATION, never superuser; see `etl.db_roles`), and the publication is made
to cover exactly the declared tables (`etl.tables`). Every step is idempotent: run on every
`etl up`.
"""

from __future__ import annotations

from functools import partial

import psycopg
from psycopg import sql

from etl.db_roles import ensure_login_role
from etl.migrations import SQL_ROOT, apply_migrations
from etl.settings import DbRole, Settings
from etl.tables import SOURCE_SCHEMA, publication_tables

#: login role -> the NOLOGIN group holding its rights on the source (migrations grant those)
SOURCE_ROLE_GROUPS: dict[DbRole, str] = {"replication": "cdc_reader", "reader": "shop_reader"}


def ensure_source_roles(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Debezium's and the reader's login roles; returns what changed."""
    changes = []
    for role, group in SOURCE_ROLE_GROUPS.items():
        dsn = partial(settings.source_dsn, role=role)
        if change := ensure_login_role(conn, settings, role, group, dsn):
            changes.append(change)
    return changes


def ensure_publication(conn: psycopg.Connection, settings: Settings) -> None:
    name = sql.Identifier(settings.publication_name)
    tables = sql.SQL(", ").join(sql.Identifier(SOURCE_SCHEMA, t) for t in publication_tables())
    exists = conn.execute(
        "SELECT 1 FROM pg_publication WHERE pubname = %s", (settings.publication_name,)
    ).fetchone()
    if exists:
        conn.execute(sql.SQL("ALTER PUBLICATION {} SET TABLE {}").format(name, tables))
    else:
        conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(name, tables))


def prepare_source(settings: Settings) -> list[str]:
    """Migrate the source database and set up its roles and CDC objects; return what changed
    (migrations applied, roles created or given their password)."""
    applied = apply_migrations(settings.source_dsn(), SQL_ROOT / "source")
    with psycopg.connect(settings.source_dsn(), autocommit=True) as conn, conn.transaction():
        changes = ensure_source_roles(conn, settings)
        ensure_publication(conn, settings)
    return [m.path.name for m in applied] + changes


def current_wal_lsn(settings: Settings) -> str:
    """The WAL position every commit so far lies below: the insert position. Not
    `pg_current_wal_lsn()`, the write position: a commit made with `synchronous_commit=off`
    (as `etl seed` and the load tests make them) can still sit in the WAL buffers above it, so a
    drain judged by that target could be declared while such a commit is still on its way."""
    with psycopg.connect(settings.source_dsn()) as conn:
        row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
    assert row is not None
    return str(row[0])


def wait_for_slot(settings: Settings, target_lsn: str, timeout_s: float) -> float:
    """Wait until Debezium's slot has confirmed `target_lsn`: every change up to it is in Kafka.

    Judged by lag (the slot's confirmed_flush_lsn), not by counting messages. Returns seconds
    waited; raises EtlError with the remaining lag in bytes on timeout.
    """
    import time

    from etl.errors import EtlError

    started = time.monotonic()
    query = (
        "SELECT confirmed_flush_lsn >= %s::pg_lsn, pg_wal_lsn_diff(%s::pg_lsn, confirmed_flush_lsn)"
        " FROM pg_replication_slots WHERE slot_name = %s"
    )
    with psycopg.connect(settings.source_dsn(), autocommit=True) as conn:
        while True:
            row = conn.execute(query, (target_lsn, target_lsn, settings.slot_name)).fetchone()
            if row is not None and row[0]:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                lag = "no slot" if row is None else f"{row[1]} bytes behind"
                raise EtlError(
                    f"replication slot {settings.slot_name} did not catch up in "
                    f"{timeout_s:.0f} s ({lag})"
                )
            time.sleep(0.25)
