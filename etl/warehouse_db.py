"""The warehouse database's schema: versioned migrations under sql/warehouse/ (the shared runner).

Here, in the base layer, because both the loader (on start) and `etl up` (right after the
warehouse server answers) apply it, and tests reset its data tables between runs.
"""

from __future__ import annotations

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
)


def prepare_warehouse(settings: Settings) -> list[str]:
    """Apply the pending warehouse migrations (idempotent); return the file names applied now."""
    return [m.path.name for m in apply_migrations(settings.warehouse_dsn(), WAREHOUSE_MIGRATIONS)]
