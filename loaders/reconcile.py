"""Source vs warehouse reconciliation, in tiers (like Google's data-validation tool, reladiff).

First wait (bounded) for the pipeline to drain, judged by lag at every hop (loaders/lag.py),
not by the data becoming equal. Then, per table, on consistent snapshots of both databases:

1. row counts and the sum of the amounts (order totals, line amounts);
2. the sum of per-row hashes over the key and every business column the warehouse carries;
3. only if they differ: key ranges are compared by (count, hash sum) and split 16-way until a
   range is small, whose per-key hashes are then diffed to name the first mismatching keys.

The warehouse side is `dw.current_<table>` (sql/warehouse/V002): the current state under the
source's column names, so one hash expression serves both sides. Both sessions use UTC, so
timestamps render alike. The daily summaries are also checked against a recompute from the
facts. The result is a `loaders.results.ReconcileResult`; `match` is true only if every check
passed.
"""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from etl.errors import EtlError
from etl.settings import Settings
from etl.source_db import current_wal_lsn, wait_for_slot
from loaders.apply import sql_file
from loaders.entities import ENTITIES, Entity
from loaders.lag import curated_lag, transform_lag
from loaders.results import (
    DrainReport,
    HopLag,
    KeyMismatch,
    Problem,
    ReconcileResult,
    SideSummary,
    TableComparison,
)

SPLIT = 16  # sub-ranges per level of the range bisection
LEAF_ROWS = 2000  # a range this small is diffed key by key
MAX_KEYS = 20  # mismatching keys listed per table


def row_hash(entity: Entity) -> sql.Composable:
    """A 60-bit integer hash of one row's key and business columns (NULL-safe, text form)."""
    parts = [
        sql.SQL("coalesce({}::text, '<null>')").format(sql.Identifier(c))
        for c in (entity.key, *entity.column_names)
    ]
    return sql.SQL("('x' || substr(md5(concat_ws('|', {})), 1, 15))::bit(60)::bigint").format(
        sql.SQL(", ").join(parts)
    )


class Side:
    """One database's view of an entity: the relation and the queries the tiers need."""

    def __init__(self, conn: psycopg.Connection, entity: Entity, relation: str) -> None:
        self.conn, self.entity = conn, entity
        self.rel = sql.Identifier(*relation.split("."))
        self.key = sql.Identifier(entity.key)
        self.hash = row_hash(entity)

    def summary(self) -> SideSummary:
        amount = sql.SQL(self.entity.table.amount or "NULL::numeric")
        row = self.conn.execute(
            sql.SQL(
                "SELECT count(*), sum({amount}), coalesce(sum({hash}), 0), min({key}), max({key})"
                " FROM {rel}"
            ).format(amount=amount, hash=self.hash, key=self.key, rel=self.rel)
        ).fetchone()
        assert row is not None
        return SideSummary(
            rows=row[0],
            amount=None if row[1] is None else str(row[1]),
            hash_sum=str(row[2]),
            min_key=row[3],
            max_key=row[4],
        )

    def range_checksum(self, lo: int, hi: int) -> tuple[int, int]:
        row = self.conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum({hash}), 0) FROM {rel}"
                " WHERE {key} >= %s AND {key} < %s"
            ).format(hash=self.hash, rel=self.rel, key=self.key),
            (lo, hi),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def key_hashes(self, lo: int, hi: int) -> dict[int, int]:
        return dict(
            self.conn.execute(
                sql.SQL("SELECT {key}, {hash} FROM {rel} WHERE {key} >= %s AND {key} < %s").format(
                    hash=self.hash, rel=self.rel, key=self.key
                ),
                (lo, hi),
            ).fetchall()
        )


def differing_keys(src: Side, wh: Side, lo: int, hi: int, found: list[KeyMismatch]) -> None:
    """Bisect [lo, hi) by range checksums; append up to MAX_KEYS differing keys to `found`."""
    if len(found) >= MAX_KEYS or lo >= hi:
        return
    (src_rows, src_sum), (wh_rows, wh_sum) = src.range_checksum(lo, hi), wh.range_checksum(lo, hi)
    if (src_rows, src_sum) == (wh_rows, wh_sum):
        return
    if max(src_rows, wh_rows) <= LEAF_ROWS or hi - lo <= SPLIT:
        a, b = src.key_hashes(lo, hi), wh.key_hashes(lo, hi)
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key) and len(found) < MAX_KEYS:
                kind: Problem = (
                    "missing" if key not in b else "unexpected" if key not in a else "differs"
                )
                found.append(KeyMismatch(key=key, problem=kind))
        return
    step = -(-(hi - lo) // SPLIT)
    for start in range(lo, hi, step):
        differing_keys(src, wh, start, min(hi, start + step), found)


def source_side(conn: psycopg.Connection, entity: Entity) -> Side:
    return Side(conn, entity, entity.table.qualified_name)


def warehouse_side(conn: psycopg.Connection, entity: Entity) -> Side:
    """The warehouse's current state of the entity, under the source's column names."""
    return Side(conn, entity, entity.current_view)


def compare_entity(
    src_conn: psycopg.Connection, wh_conn: psycopg.Connection, entity: Entity
) -> TableComparison:
    src, wh = source_side(src_conn, entity), warehouse_side(wh_conn, entity)
    a, b = src.summary(), wh.summary()
    counts, amounts, hashes = a.rows == b.rows, a.amount == b.amount, a.hash_sum == b.hash_sum
    result = TableComparison(
        source=a,
        warehouse=b,
        counts_match=counts,
        amounts_match=amounts,
        hashes_match=hashes,
        match=counts and amounts and hashes,
    )
    if not result.match:
        keys = [k for k in (a.min_key, a.max_key, b.min_key, b.max_key) if k is not None]
        if keys:
            differing_keys(src, wh, min(keys), max(keys) + 1, result.mismatched_keys)
    return result


def summaries_consistent(wh_conn: psycopg.Connection) -> bool:
    incremental = wh_conn.execute(
        "SELECT date_key, country, orders, cancelled_orders, items, revenue"
        " FROM dw.agg_daily_sales_by_country ORDER BY date_key, country"
    ).fetchall()
    return incremental == wh_conn.execute(sql_file("recompute_daily_sales.sql")).fetchall()


def wait_for_drain(settings: Settings, wait_s: float) -> DrainReport:
    """Wait (at most wait_s) until every hop has caught up with the source's WAL position now."""
    deadline = time.monotonic() + wait_s
    hops: dict[str, HopLag] = {}
    target = current_wal_lsn(settings)
    try:
        waited = wait_for_slot(settings, target, max(0.0, deadline - time.monotonic()))
        hops["source_slot"] = HopLag(drained=True, target_lsn=target, waited_s=round(waited, 2))
    except EtlError as exc:
        hops["source_slot"] = HopLag(drained=False, target_lsn=target, detail=str(exc))
    transform = transform_lag(settings)
    while transform and time.monotonic() < deadline:
        time.sleep(0.25)
        transform = transform_lag(settings)
    hops["transform"] = (
        HopLag(drained=None, detail="no transform progress reported")
        if transform is None
        else HopLag(drained=not transform, behind=transform)
    )
    with psycopg.connect(settings.warehouse_dsn(role="reader"), autocommit=True) as conn:
        loader = curated_lag(settings, conn)
        while loader and time.monotonic() < deadline:
            time.sleep(0.25)
            loader = curated_lag(settings, conn)
    hops["loader"] = HopLag(drained=not loader, behind=loader)
    drained = all(h.drained is not False for h in hops.values())
    return DrainReport(drained=drained, hops=hops)


def reconcile(settings: Settings, wait_s: float) -> ReconcileResult:
    """Wait for the pipeline to drain (bounded), then compare source and warehouse."""
    started = time.monotonic()
    drain = wait_for_drain(settings, wait_s)
    with (
        psycopg.connect(settings.source_dsn(role="reader")) as src,
        psycopg.connect(settings.warehouse_dsn(role="reader")) as wh,
    ):
        for conn in (src, wh):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            conn.execute("SET TIME ZONE 'UTC'")
        tables = {name: compare_entity(src, wh, entity) for name, entity in ENTITIES.items()}
        consistent = summaries_consistent(wh)
    return ReconcileResult(
        match=all(t.match for t in tables.values()) and consistent,
        drained=drain.drained,
        drain=drain,
        tables=tables,
        summaries_consistent=consistent,
        seconds=round(time.monotonic() - started, 2),
    )
