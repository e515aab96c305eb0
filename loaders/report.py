"""What is in the warehouse, for the demo and `etl status`: rows, revenue by day, freshness."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from etl.progress import LoaderProgress
from etl.settings import Settings
from etl.warehouse_db import DATA_TABLES, newest_applied_commit
from loaders.apply import sql_file
from loaders.results import DayRevenue, LoadTotals, WarehouseReport

#: Every warehouse table: what the loader writes, plus the static date dimension.
REPORT_TABLES = ("dim_date", *DATA_TABLES)
_REVENUE_BY_DAY = """
SELECT d.full_date::text, a.orders, a.cancelled_orders, a.items, a.revenue::text,
       a.avg_order_value::text
FROM dw.agg_daily_sales a JOIN dw.dim_date d USING (date_key)
ORDER BY d.full_date
"""
_AUDIT_TOTALS = """
SELECT count(*), coalesce(sum(rows_in), 0), coalesce(sum(applied), 0),
       coalesce(sum(skipped_stale), 0), coalesce(sum(rejected), 0), max(committed_at)
FROM dw.etl_load_audit
"""


def warehouse_report(settings: Settings) -> WarehouseReport:
    """What the warehouse holds now (see `loaders.results.WarehouseReport`)."""
    with psycopg.connect(settings.warehouse_dsn(role="reader"), autocommit=True) as conn:
        rows = {
            t: conn.execute(f"SELECT count(*) FROM dw.{t}").fetchone()[0]  # type: ignore[index]
            for t in REPORT_TABLES
        }
        days = [
            DayRevenue(
                day=day,
                orders=orders,
                cancelled_orders=cancelled,
                items=items,
                revenue=revenue,
                avg_order_value=avg,
            )
            for day, orders, cancelled, items, revenue, avg in conn.execute(
                _REVENUE_BY_DAY
            ).fetchall()
        ]
        newest = newest_applied_commit(conn)
        batches, rows_in, applied, stale, rejected, last = conn.execute(  # type: ignore[misc]
            _AUDIT_TOTALS
        ).fetchone()
        dangling: dict[str, int] = dict(
            conn.execute(sql_file("dangling_references.sql")).fetchall()
        )
    now = datetime.now(UTC)
    return WarehouseReport(
        generated_at=now.isoformat(timespec="seconds"),
        rows=rows,
        revenue_by_day=days,
        newest_source_commit_applied=newest.isoformat() if newest else None,
        end_to_end_lag_s=round((now - newest).total_seconds(), 3) if newest else None,
        loads=LoadTotals(
            batches=batches,
            rows_in=rows_in,
            applied=applied,
            stale=stale,
            rejected=rejected,
            last_commit=last.isoformat() if last else None,
        ),
        dangling_references=dangling,
        loader_progress=LoaderProgress.read(settings),
    )
