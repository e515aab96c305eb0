"""A throwaway PostgreSQL cluster for the loader's SQL tests, migrated with the warehouse schema.

Why not the session `stack`: these tests need PostgreSQL only, and starting Kafka and Connect
for them would cost a minute and tie the `unit` marker to the whole stack. The cluster is made
the way `etl up` makes the warehouse (same initdb, same server settings, same migrations), on a
free port under its own temporary ETL_HOME, and every test starts from empty tables.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
import pytest

from etl.health import probe_postgres
from etl.settings import Settings, maintenance_dsn
from etl.warehouse_db import DATA_TABLES, prepare_warehouse
from infra.local import services
from infra.local.bootstrap import create_database
from loaders.apply import BatchResult, apply_batch
from loaders.batch import ChangeBatch
from loaders.offsets import stored_offsets


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def warehouse_settings() -> Iterator[Settings]:
    home = Path(tempfile.mkdtemp(prefix="etl-loader-unit-", dir="/tmp"))
    home.chmod(0o755)
    settings = Settings(home=home, warehouse_db_port=_free_port(), port_base=40000)
    services.init_postgres_cluster(settings, "warehouse")
    program = services.postgres_program(settings, "warehouse")
    log = (home / "postgres.log").open("w")
    proc = subprocess.Popen(program.command, user=program.user, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while not probe_postgres(maintenance_dsn(settings.warehouse_dsn())).healthy:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "throwaway PostgreSQL did not start:\n" + (home / "postgres.log").read_text()
                )
            time.sleep(0.1)
        create_database(maintenance_dsn(settings.warehouse_dsn()), settings.warehouse_db_name)
        prepare_warehouse(settings)
        yield settings
    finally:
        proc.send_signal(2)  # SIGINT: PostgreSQL's fast shutdown
        proc.wait(timeout=30)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def wh(warehouse_settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a warehouse whose tables are empty (dim_date stays filled)."""
    with psycopg.connect(warehouse_settings.warehouse_dsn(), autocommit=True) as conn:
        tables = ", ".join(f"dw.{t}" for t in DATA_TABLES)
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY")
        conn.execute("SET TIME ZONE 'UTC'")
        yield conn


class Applier:
    """Feeds crafted records through the real apply path, as one batch per call.

    Each record gets the next offset of partition 0 of its curated topic, and the offsets the
    warehouse stores are passed as the expected ones, exactly as the loader does.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.offsets = count()

    def __call__(self, *records: dict[str, Any]) -> BatchResult:
        batch = ChangeBatch()
        for record in records:
            topic = f"curated.{record['entity']}"
            batch.add(topic, 0, next(self.offsets), json.dumps(record).encode())
        stored = stored_offsets(self.conn, {tp[0] for tp in batch.offsets})
        expected: dict[tuple[str, int], int | None] = {tp: stored.get(tp) for tp in batch.offsets}
        return apply_batch(self.conn, batch, expected, "unit-test")


@pytest.fixture
def apply(wh: psycopg.Connection) -> Applier:
    return Applier(wh)
