"""The warehouse database's schema: versioned migrations under sql/warehouse/ (the shared runner).

Here, in the base layer, because both the loader (on start) and `etl up` (right after the
warehouse server answers) apply it, and tests reset its data tables between runs.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from etl.migrations import SQL_ROOT, apply_migrations
from etl.settings import Settings

WAREHOUSE_MIGRATIONS = SQL_ROOT / "warehouse"

#: Tables the loader writes (everything but the static dim_date): emptied to reload from scratch.
DATA_TABLES = (
    "dim_customer",
    "dim_product",
    "fact_orders",
    "fact_order_items",
    "agg_daily_sales",
    "agg_daily_sales_by_country",
    "etl_offsets",
    "etl_load_audit",
    "etl_truncations",
    "etl_dead_letters",
)


def prepare_warehouse(settings: Settings) -> list[str]:
    """Apply the pending warehouse migrations (idempotent); return the file names applied now."""
    return [m.path.name for m in apply_migrations(settings.warehouse_dsn(), WAREHOUSE_MIGRATIONS)]


#: Tables whose rows carry the source commit they were applied from (`source_committed_at`).
APPLIED_TABLES = ("fact_orders", "fact_order_items", "dim_customer", "dim_product")


def newest_applied_commit(conn: psycopg.Connection) -> datetime | None:
    """The newest source commit the warehouse has applied, over every table the loader writes
    (the warehouse report's end-to-end lag and the freshness suite both start from it)."""
    union = " UNION ALL ".join(
        f"SELECT max(source_committed_at) AS t FROM dw.{t}" for t in APPLIED_TABLES
    )
    row = conn.execute(f"SELECT max(t) FROM ({union}) x").fetchone()
    return row[0] if row else None
