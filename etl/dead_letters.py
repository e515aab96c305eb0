"""What the loader dead-lettered, as `etl status` and the dashboard report it.

The loader writes one row per dead letter into `dw.etl_dead_letters` in the transaction that
moves its offsets past the record (loaders/dead_letters.py); this reads them back. In the base
layer because the loader writes them and `etl status` (infra) reads them, without importing
each other.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from pydantic import BaseModel

NEWEST_SHOWN = 5


class LoaderDeadLetter(BaseModel):
    topic: str
    partition: int
    offset: int
    entity: str | None
    key: str | None
    version: int | None
    rule: str
    reason: str
    failed_at: datetime


class DeadLetterSummary(BaseModel):
    """How many changes the loader dead-lettered in all, and the newest few."""

    total: int
    newest: list[LoaderDeadLetter]


_NEWEST = (
    'SELECT topic, partition, "offset", entity, record_key, version, rule, reason, failed_at,'
    " count(*) OVER () FROM dw.etl_dead_letters ORDER BY failed_at DESC LIMIT %s"
)


def dead_letter_summary(dsn: str, newest: int = NEWEST_SHOWN) -> DeadLetterSummary:
    with psycopg.connect(dsn, connect_timeout=3) as conn:
        rows = conn.execute(_NEWEST, (newest,)).fetchall()
    return DeadLetterSummary(
        total=rows[0][-1] if rows else 0,
        newest=[
            LoaderDeadLetter(
                topic=r[0],
                partition=r[1],
                offset=r[2],
                entity=r[3],
                key=r[4],
                version=r[5],
                rule=r[6],
                reason=r[7],
                failed_at=r[8],
            )
            for r in rows
        ],
    )
