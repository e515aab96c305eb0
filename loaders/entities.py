"""What the loader knows about each captured entity: its key, its business columns and types,
and where it lands in the warehouse.

Keys, columns and types come from the one declaration of the captured tables (`etl/tables.py`);
only the warehouse side (target table, current-state view) is the loader's own. Used by staging
(temporary table DDL, COPY column order), the apply SQL templates and reconciliation (which
columns are hashed on both sides). Staging columns have the source's types, so COPY's text input
parses the curated record's strings (decimals, ISO timestamps) exactly as the source wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from etl.tables import CAPTURED, CapturedTable


@dataclass(frozen=True)
class Entity:
    """Derived names are cached: the loader reads them for every record it parses."""

    table: CapturedTable  # the source table = curated record's `entity`
    target: str  # warehouse table it lands in
    current_view: str  # warehouse relation with the current state under source column names

    @cached_property
    def name(self) -> str:
        return self.table.name

    @cached_property
    def key(self) -> str:
        return self.table.key

    @cached_property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """Business columns after the key: (name, PostgreSQL type)."""
        return tuple((c.name, c.sql_type) for c in self.table.business_columns)

    @cached_property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    @cached_property
    def staging_table(self) -> str:
        return f"stg_{self.name}"


#: source table -> warehouse table it lands in (dimensions are SCD2, facts current state)
WAREHOUSE_TARGETS: dict[str, str] = {
    "customers": "dw.dim_customer",
    "products": "dw.dim_product",
    "orders": "dw.fact_orders",
    "order_items": "dw.fact_order_items",
}

ENTITIES: dict[str, Entity] = {
    t.name: Entity(t, WAREHOUSE_TARGETS[t.name], f"dw.current_{t.name}") for t in CAPTURED
}

#: Change-record metadata staged with every row, before the key and business columns.
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("version", "bigint"),
    ("source_ts_ms", "bigint"),
    ("deleted", "boolean"),
    ("created", "boolean"),  # an insert (op `c`): the fact's reference is resolved anew
    ("unchanged", "text[]"),  # columns not sent (unchanged TOASTed values), NULL: none
)
