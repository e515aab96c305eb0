"""Apply one batch of change records to the warehouse in ONE transaction, with its offsets.

Order inside the transaction, and why:

1. COPY the records into session-temporary staging tables (typed by PostgreSQL, not Python).
2. Take the warehouse-wide apply lock (`pg_advisory_xact_lock`): loaders sharing the partitions
   consume and parse in parallel but apply one batch at a time. Batches of different partitions
   touch shared rows (an order's lines live on other partitions than the order; several orders
   add to one daily summary row), and the delta of a summary is only right if nobody changes
   the same orders between reading the old contribution and writing the new one.
3. Compare-and-set the batch's offsets (loaders/offsets.py); a zombie batch stops here.
   The batch's dead letters (loaders/dead_letters.py) are recorded with it.
4. The source's corner cases (loaders/source_cases.py): record the batch's TRUNCATEs, fill in
   unchanged TOASTed columns.
5. Count the fresh changes (newer than stored) for the audit; snapshot the old contribution
   of every order the batch can affect.
6. Dimensions (SCD2), inferred members for facts whose member is missing, facts
   (newer-version-wins, soft deletes; each references its member's version valid at its own
   LSN), facts that a member version arriving after them re-points, the TRUNCATEs (a change
   older than a known one, arriving late, was applied like the others and is deleted again as
   of that truncate), then the daily summaries by delta.
7. One audit row; COMMIT. A crash before COMMIT leaves nothing; after it, everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import Field

from etl.progress import LoaderBatch
from etl.topics import TopicPartitionKey
from loaders.batch import ChangeBatch
from loaders.dead_letters import record_dead_letters
from loaders.entities import ENTITIES, META_COLUMNS, Entity
from loaders.offsets import advance_offsets
from loaders.source_cases import (
    DIMENSIONS,
    apply_truncations,
    fill_unchanged,
    record_truncations,
    truncated_orders,
)
from loaders.templates import entity_sql, qualified, sql_file

APPLY_LOCK_KEY = 7_230_612  # pg_advisory_xact_lock key: one batch applies at a time
#: Session settings of the connection that applies batches (measured with auto_explain on the
#: loader benchmark): JIT compiled the larger statements for 10-20 ms each, more than they then
#: ran; the default 4 MB work_mem spilled the DISTINCT ON sorts of a 5,000-record batch to disk.
APPLY_SESSION_OPTIONS = "-c jit=off -c work_mem=64MB"
_STAGING_DDL = "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS"
#: Orders a TRUNCATE in the batch takes out of the summaries (loaders/source_cases.py).
_TRUNCATED_ORDERS_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS stg_truncated_orders (order_id bigint) ON COMMIT DELETE ROWS"
)
_NEXT_BATCH_ID = "SELECT nextval(pg_get_serial_sequence('dw.etl_load_audit', 'batch_id'))"
_AUDIT = (
    "INSERT INTO dw.etl_load_audit (batch_id, loader_id, started_at, duration_ms, rows_in,"
    " applied, skipped_stale, rejected, dead_lettered, truncations, per_entity, offsets,"
    " max_source_committed_at) OVERRIDING SYSTEM VALUE VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
    " %s, %s, %s, %s, to_timestamp(%s / 1000.0))"
)


@dataclass(frozen=True)
class FactMember:
    """A fact's reference to a dimension member (fact_orders.customer_sk -> dim_customer): the
    identifiers that fill the templates which resolve, infer and re-point it."""

    fact: Entity
    member: Entity

    def sql(self, template: str) -> sql.Composed:
        name = self.member.target.removeprefix("dw.dim_")  # customer
        return entity_sql(
            template,
            self.member,
            fact=qualified(self.fact.target),
            fact_key=sql.Identifier(self.fact.key),
            fact_stg=sql.Identifier(self.fact.staging_table),
            sk=sql.Identifier(f"{name}_sk"),
            as_of=sql.Identifier(f"{name}_as_of"),
            sk_at=qualified(f"dw.{name}_sk_at"),
            repoint=sql.Identifier(f"repoint_{self.fact.name}"),
            changes=sql.Identifier(f"changes_{self.fact.name}"),
        )


FACT_MEMBERS = (
    FactMember(ENTITIES["orders"], ENTITIES["customers"]),
    FactMember(ENTITIES["order_items"], ENTITIES["products"]),
)


class BatchResult(LoaderBatch):
    """What the loader reports of a batch, plus where each partition now stands (used to
    move the consumer on; not part of the reports, so excluded from dumps)."""

    end_offsets: dict[TopicPartitionKey, int] = Field(default_factory=dict, exclude=True)


def connect_for_apply(dsn: str, application_name: str) -> psycopg.Connection:
    """The autocommit connection `apply_batch` needs, with the apply session settings."""
    return psycopg.connect(
        dsn, autocommit=True, application_name=application_name, options=APPLY_SESSION_OPTIONS
    )


def ensure_staging_tables(conn: psycopg.Connection) -> None:
    """Session-temporary staging tables, emptied at each transaction end (ON COMMIT DELETE ROWS)."""
    for entity in ENTITIES.values():
        key = entity.table.columns[0]
        columns = [*META_COLUMNS, (key.name, key.sql_type), *entity.columns]
        conn.execute(
            sql.SQL(_STAGING_DDL).format(
                sql.Identifier(entity.staging_table),
                sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
                ),
            )
        )
    conn.execute(_TRUNCATED_ORDERS_DDL)


def copy_into_staging(conn: psycopg.Connection, batch: ChangeBatch) -> None:
    with conn.cursor() as cur:
        for name, rows in batch.rows.items():
            if not rows:
                continue
            entity = ENTITIES[name]
            names = [n for n, _ in META_COLUMNS] + [entity.key, *entity.column_names]
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(entity.staging_table), sql.SQL(", ").join(map(sql.Identifier, names))
            )
            with cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
            # temporary tables are never auto-analyzed: without this the planner guesses
            # their size from pages and mis-sizes the joins against the warehouse tables
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(entity.staging_table)))


def apply_staged(conn: psycopg.Connection, batch: ChangeBatch) -> None:
    """Steps 5b-6: everything after the counts, over whatever the staging tables hold."""
    truncated_orders(conn, batch)
    for reference in FACT_MEMBERS:
        conn.execute(reference.sql("repoint_candidates.sql"))
    conn.execute(sql_file("affected_orders.sql").encode())
    for name in DIMENSIONS:
        conn.execute(entity_sql("dimension_scd2.sql", ENTITIES[name]))
    for reference in FACT_MEMBERS:
        conn.execute(reference.sql("inferred_members.sql"))
        conn.execute(reference.sql("fact_changes.sql"))
    conn.execute(sql_file("fact_orders.sql").encode())
    conn.execute(sql_file("fact_order_items.sql").encode())
    for reference in FACT_MEMBERS:
        conn.execute(reference.sql("repoint_facts.sql"))
    apply_truncations(conn, batch)
    conn.execute(sql_file("daily_sales_delta.sql").encode())


def count_fresh(conn: psycopg.Connection, batch: ChangeBatch) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for name, rows in batch.rows.items():
        if not rows:
            continue
        row = conn.execute(entity_sql("count_fresh.sql", ENTITIES[name])).fetchone()
        counts[name] = {"rows_in": len(rows), "applied": int(row[0]) if row else 0}
    return counts


def apply_batch(
    conn: psycopg.Connection,
    batch: ChangeBatch,
    expected_offsets: dict[TopicPartitionKey, int | None],
    loader_id: str,
) -> BatchResult:
    """Load `batch` and advance its offsets atomically; raise offsets.Fenced if not ours.

    `expected_offsets` is what this loader believes the warehouse stores for each partition of
    the batch (None: no row yet). The connection must be in autocommit mode, so that the
    `transaction()` block below is the batch's own BEGIN/COMMIT, never a savepoint.
    """
    assert conn.autocommit, "apply_batch needs an autocommit connection (it runs its own BEGIN)"
    started = time.perf_counter()
    started_at = datetime.now(UTC)
    with conn.transaction():
        ensure_staging_tables(conn)
        copy_into_staging(conn, batch)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPLY_LOCK_KEY,))
        row = conn.execute(_NEXT_BATCH_ID).fetchone()
        assert row is not None
        batch_id = int(row[0])
        advance_offsets(conn, batch.offsets, expected_offsets, batch_id, loader_id)
        record_dead_letters(conn, batch.dead_letters, batch_id, loader_id)
        record_truncations(conn, batch, batch_id)
        fill_unchanged(conn, batch)
        per_entity = count_fresh(conn, batch)
        apply_staged(conn, batch)
        applied = sum(c["applied"] for c in per_entity.values())
        dead_lettered = len(batch.dead_letters)
        truncations = len(batch.truncations)
        stale = batch.rows_in - dead_lettered - truncations - applied
        offsets = [
            {"topic": t, "partition": p, "from": r.first, "to": r.next}
            for (t, p), r in sorted(batch.offsets.items())
        ]
        conn.execute(
            _AUDIT,
            (
                batch_id,
                loader_id,
                started_at,
                (time.perf_counter() - started) * 1000,
                batch.rows_in,
                applied,
                stale,
                batch.rejected,
                dead_lettered,
                truncations,
                Jsonb(per_entity),
                Jsonb(offsets),
                batch.max_source_ts_ms,
            ),
        )
    return BatchResult(
        batch_id=batch_id,
        rows_in=batch.rows_in,
        applied=applied,
        stale=stale,
        rejected=batch.rejected,
        dead_lettered=dead_lettered,
        truncations=truncations,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
        end_offsets={tp: r.next for tp, r in batch.offsets.items()},
        per_entity=per_entity,
    )
