"""The warehouse schema: versioned migrations under sql/warehouse/ (the shared runner)."""

from __future__ import annotations

from etl.migrations import SQL_ROOT, apply_migrations
from etl.settings import Settings

WAREHOUSE_MIGRATIONS = SQL_ROOT / "warehouse"


def prepare_warehouse(settings: Settings) -> list[str]:
    """Apply the pending warehouse migrations (idempotent); return the file names applied now."""
    return [m.path.name for m in apply_migrations(settings.warehouse_dsn(), WAREHOUSE_MIGRATIONS)]
