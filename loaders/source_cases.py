"""Steps of a batch for the source's corner cases: TRUNCATE and unchanged TOASTed values.

Run inside the batch's transaction by `loaders.apply.apply_batch` (docs/corner-cases.md):

- `record_truncations`: the batch's TRUNCATE records into `dw.etl_truncations` (idempotent);
- `fill_unchanged`: an update's unchanged TOASTed columns take the previous version's value;
- `truncated_orders`: the orders whose daily-summary contribution a TRUNCATE changes;
- `apply_truncations`, after the upserts: a change older than a known TRUNCATE of its table
  (arriving late) is deleted again as of the first truncate after it, then every other row
  older than the batch's truncates is soft-deleted.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from psycopg import sql

from loaders.batch import ChangeBatch, Truncation
from loaders.entities import ENTITIES, Entity
from loaders.templates import entity_sql

#: Warehouse tables that are SCD2 dimensions (current row, inferred members).
DIMENSIONS = ("customers", "products")

_RECORD = (
    "INSERT INTO dw.etl_truncations (entity, version, source_committed_at, batch_id)"
    " VALUES (%s, %s, to_timestamp(%s / 1000.0), %s) ON CONFLICT (entity, version) DO NOTHING"
)
#: entity truncated -> the orders whose contribution changes (its rows' orders, older than it)
_TRUNCATED_ORDERS = {
    "orders": "INSERT INTO stg_truncated_orders SELECT order_id FROM dw.fact_orders"
    " WHERE NOT is_deleted AND version < %s",
    "order_items": "INSERT INTO stg_truncated_orders SELECT order_id FROM dw.fact_order_items"
    " WHERE NOT is_deleted AND version < %s AND order_id IS NOT NULL",
}


def latest_truncations(truncations: Iterable[Truncation]) -> dict[str, Truncation]:
    """Per entity, the newest TRUNCATE (it covers every older one)."""
    latest: dict[str, Truncation] = {}
    for t in truncations:
        if t.entity not in latest or t.version > latest[t.entity].version:
            latest[t.entity] = t
    return latest


def record_truncations(conn: psycopg.Connection, batch: ChangeBatch, batch_id: int) -> None:
    if batch.truncations:
        with conn.cursor() as cur:
            cur.executemany(
                _RECORD,
                [(t.entity, t.version, t.source_ts_ms, batch_id) for t in batch.truncations],
            )


def _is_dimension(entity: Entity) -> bool:
    return entity.name in DIMENSIONS


def fill_unchanged(conn: psycopg.Connection, batch: ChangeBatch) -> None:
    for name in sorted(batch.unchanged_entities):
        entity = ENTITIES[name]
        current = sql.SQL(" AND t.is_current" if _is_dimension(entity) else "")
        for column in entity.column_names:
            conn.execute(
                entity_sql(
                    "unchanged_values.sql",
                    entity,
                    col=sql.Identifier(column),
                    column=sql.Literal(column),
                    current=current,
                )
            )


def truncated_orders(conn: psycopg.Connection, batch: ChangeBatch) -> None:
    for name, truncation in latest_truncations(batch.truncations).items():
        if name in _TRUNCATED_ORDERS:
            conn.execute(_TRUNCATED_ORDERS[name], (truncation.version,))


def _live(entity: Entity) -> sql.SQL:
    """The rows a truncate deletes: a dimension's current row that is not an inferred member
    (a placeholder stands for facts; its real row, when it arrives, settles it)."""
    return sql.SQL(" AND t.is_current AND NOT t.is_inferred" if _is_dimension(entity) else "")


def apply_truncations(conn: psycopg.Connection, batch: ChangeBatch) -> None:
    """Late changes first (each deleted as of the truncate that followed it), then the batch's
    own truncates over every row they find."""
    for name, rows in batch.rows.items():
        if rows:
            entity = ENTITIES[name]
            conn.execute(
                entity_sql(
                    "truncate_late.sql",
                    entity,
                    entity_name=sql.Literal(name),
                    live=_live(entity),
                )
            )
    for name, truncation in latest_truncations(batch.truncations).items():
        entity = ENTITIES[name]
        conn.execute(
            entity_sql(
                "truncate_apply.sql",
                entity,
                version=sql.Literal(truncation.version),
                ts_ms=sql.Literal(truncation.source_ts_ms),
                live=_live(entity),
            )
        )
