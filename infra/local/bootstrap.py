"""What must exist once a local service runs: databases and their schema, topics, the connector.

Each step is idempotent (`etl up` runs it on every start) and tells what it changed through
`say(message)`, which the runner prefixes with the service's name; the service objects in
`infra.services` name which step is whose.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from etl.connector import ConnectClient
from etl.settings import Settings, maintenance_dsn
from etl.source_db import prepare_source
from etl.topics import ensure_topics
from etl.warehouse_db import prepare_warehouse
from infra.catalog import debezium_connector_config

Say = Callable[[str], None]


def create_database(admin_dsn: str, dbname: str) -> bool:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        return True


def _prepare_database(say: Say, dsn: str, migrate: Callable[[], list[str]]) -> None:
    dbname = dsn.rsplit("/", 1)[1]
    if create_database(maintenance_dsn(dsn), dbname):
        say(f"created database {dbname}")
    applied = migrate()
    say(f"migrations applied: {', '.join(applied)}" if applied else "schema up to date")


def prepare_source_database(settings: Settings, say: Say) -> None:
    """The shop database, its migrations, Debezium's login role and the publication."""
    _prepare_database(say, settings.source_dsn(), lambda: prepare_source(settings))


def prepare_warehouse_database(settings: Settings, say: Say) -> None:
    """The warehouse database and the `dw` schema's migrations."""
    _prepare_database(say, settings.warehouse_dsn(), lambda: prepare_warehouse(settings))


def create_pipeline_topics(settings: Settings, say: Say) -> None:
    created = ensure_topics(settings, settings.pipeline_topics())
    if created:
        say(f"created topics: {', '.join(created)}")


def register_connector(settings: Settings, say: Say) -> None:
    """PUT the Debezium connector's config when it differs from what Connect holds."""
    result = ConnectClient(settings.connect_url).ensure_connector(
        settings.connector_name, debezium_connector_config(settings)
    )
    say(f"connector {settings.connector_name} {result}")
