"""The small tables the freshness and DLQ suites validate, measured outside the warehouse.

Freshness compares two clocks of the same commits: the newest write the source holds
(`updated_at` of its tables) and the newest source commit the warehouse has applied. Their
difference is how far the warehouse is behind *while the source is being written*; an idle
source whose last change has arrived gives 0, however old that change is.

The DLQ figures come from Kafka: messages on the DLQ topic per table (the dead letter's
`entity`), against the messages on that table's CDC topic.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import psycopg

from etl.settings import Settings
from etl.tables import CAPTURED, CAPTURED_TABLES
from etl.topics import message_counts, read_topic
from etl.warehouse_db import newest_applied_commit

#: Reading more dead letters than this to attribute them to tables is not worth it: the count
#: bound has failed long before.
MAX_DLQ_READ = 100_000


def _newest_source_write(settings: Settings) -> datetime | None:
    tables = [t.name for t in CAPTURED if "updated_at" in t.column_names]
    query = " UNION ALL ".join(f"SELECT max(updated_at) AS t FROM {t}" for t in tables)
    with psycopg.connect(settings.source_dsn(role="reader"), connect_timeout=10) as conn:
        row = conn.execute(f"SELECT max(t) FROM ({query}) x").fetchone()
    return row[0] if row else None


def freshness_frame(settings: Settings) -> pd.DataFrame:
    """One row: newest_source_write, newest_applied_commit, lag_s (>= 0)."""
    written = _newest_source_write(settings)
    with psycopg.connect(settings.warehouse_dsn(role="reader"), connect_timeout=10) as conn:
        applied = newest_applied_commit(conn)
    if written is None:
        lag = 0.0
    elif applied is None:  # nothing arrived yet: behind by as long as the source has waited
        lag = (datetime.now(UTC) - written).total_seconds()
    else:
        lag = max(0.0, (written - applied).total_seconds())
    return pd.DataFrame(
        {
            "newest_source_write": [written.isoformat() if written else None],
            "newest_applied_commit": [applied.isoformat() if applied else None],
            "lag_s": [round(lag, 3)],
        }
    )


def dead_letters_per_table(settings: Settings) -> dict[str, int]:
    """Messages on the DLQ topic by the dead letter's `entity` ("unknown" when unreadable)."""
    counts: dict[str, int] = {}
    for msg in read_topic(settings, settings.dlq_topic, limit=MAX_DLQ_READ):
        try:
            entity = str(json.loads(msg.value() or b"{}").get("entity", "unknown"))
        except (ValueError, AttributeError):
            entity = "unknown"
        counts[entity] = counts.get(entity, 0) + 1
    return counts


def dlq_frame(settings: Settings) -> pd.DataFrame:
    """Per captured table (plus "unknown" when present): dlq_messages, cdc_messages, bad_share."""
    dead = dead_letters_per_table(settings)
    cdc = message_counts(settings, settings.cdc_topics())
    rows = []
    for table in (*CAPTURED_TABLES, *sorted(set(dead) - set(CAPTURED_TABLES))):
        changes = cdc.get(settings.cdc_topic(table)) or 0
        bad = dead.get(table, 0)
        rows.append(
            {
                "table": table,
                "dlq_messages": bad,
                "cdc_messages": changes,
                "bad_share": round(bad / max(changes, 1), 6) if bad else 0.0,
            }
        )
    return pd.DataFrame(rows)
