"""The loader's SQL tests: every test starts from empty warehouse tables on the throwaway
cluster of `tests/fixtures/postgres.py`, and feeds records through the real apply path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count
from typing import Any

import psycopg
import pytest

from etl.settings import Settings
from etl.warehouse_db import DATA_TABLES
from loaders.apply import BatchResult, apply_batch
from loaders.batch import ChangeBatch
from loaders.offsets import stored_offsets


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
