"""The warehouse database's schema: versioned migrations under sql/warehouse/ (the shared runner),
and the login roles of the loader (writes `dw` only) and the reader (reads only).

Here, in the base layer, because `etl up` (right after the warehouse server answers), the Docker
deployment's `warehouse` task and the test fixtures apply it, and tests reset its data tables
between runs. The loader does not migrate: its role may not change the schema.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import psycopg

from etl.db_roles import ensure_login_role
from etl.migrations import SQL_ROOT, apply_migrations
from etl.settings import DbRole, Settings

WAREHOUSE_MIGRATIONS = SQL_ROOT / "warehouse"

#: Tables the pipeline writes (all but the static dim_date; `etl dlq replay` writes
#: etl_dlq_replays): emptied to reload from scratch.
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
    "etl_dlq_replays",
)


#: login role -> the NOLOGIN group holding its rights on the warehouse (sql/warehouse/V010)
WAREHOUSE_ROLE_GROUPS: dict[DbRole, str] = {"loader": "dw_writer", "reader": "dw_reader"}


def prepare_warehouse(settings: Settings) -> list[str]:
    """Apply the pending warehouse migrations and set up the login roles (idempotent); return
    what changed: the file names applied now, roles created or given their password."""
    applied = apply_migrations(settings.warehouse_dsn(), WAREHOUSE_MIGRATIONS)
    changes = [m.path.name for m in applied]
    with psycopg.connect(settings.warehouse_dsn(), autocommit=True) as conn, conn.transaction():
        for role, group in WAREHOUSE_ROLE_GROUPS.items():
            dsn = partial(settings.warehouse_dsn, role=role)
            if change := ensure_login_role(conn, settings, role, group, dsn):
                changes.append(change)
    return changes


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
