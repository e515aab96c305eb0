"""What must exist once a local service runs: databases and their schema, topics, the connector.

Each step is idempotent (`etl up` runs it on every start) and tells what it changed through
`say(message)`, which the runner prefixes with the service's name; the service objects in
`infra.services` name which step is whose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

import psycopg
from psycopg import sql
from pydantic import SecretStr

from etl.connector import ConnectClient
from etl.errors import EtlError
from etl.secrets import LEGACY_PASSWORDS, passwords_path
from etl.settings import Settings, maintenance_dsn, postgres_dsn
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
    changed = migrate()
    say(f"schema and roles changed: {', '.join(changed)}" if changed else "schema up to date")


def _password_refused(exc: psycopg.OperationalError) -> bool:
    return "password authentication failed" in str(exc)


def adopt_generated_password(
    settings: Settings, db: Literal["source", "warehouse"], say: Say
) -> None:
    """Once the server answers: make sure the admin role takes this ETL_HOME's password.

    A cluster made by a version before generated passwords still has the old default; it is
    moved to the generated one here (with a one-line notice), so an old ETL_HOME keeps working.
    Any other refusal is one clear error instead of a health probe timing out.
    """
    dsn = settings.monitoring_dsn(db)
    deadline = time.monotonic() + settings.startup_timeout_s
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError as exc:
            if _password_refused(exc):
                break
            if time.monotonic() > deadline:
                return  # not answering: the health probe reports it, with the log's tail
            time.sleep(0.3)
    legacy = SecretStr(LEGACY_PASSWORDS["db_password"])
    user, password = settings.credentials("admin")
    assert password is not None  # monitoring_dsn used the admin role
    host = getattr(settings, f"{db}_db_host") or settings.bind_host
    legacy_dsn = postgres_dsn(user, legacy, host, settings.port(f"{db}_db"), "postgres")
    try:
        with psycopg.connect(legacy_dsn, connect_timeout=5, autocommit=True) as conn:
            verifier = conn.pgconn.encrypt_password(
                password.get_secret_value().encode(), user.encode(), b"scram-sha-256"
            )
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(verifier.decode())
                )
            )
    except psycopg.OperationalError:
        raise EtlError(
            f"{db}-db: role {user} accepts neither the password in {passwords_path(settings)} "
            "nor the old default: this cluster was made with other passwords. Restore that "
            "file, set ETL_DB_PASSWORD, or `etl down --purge` to start over"
        ) from None
    say(
        f"role {user} moved from the old default password to the generated one in "
        f"{passwords_path(settings)} (owner-only)"
    )


def adopt_source_password(settings: Settings, say: Say) -> None:
    adopt_generated_password(settings, "source", say)


def adopt_warehouse_password(settings: Settings, say: Say) -> None:
    adopt_generated_password(settings, "warehouse", say)


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
