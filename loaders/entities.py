"""What the loader knows about each captured entity: its key, its business columns and types.

One table of facts used by staging (temporary table DDL, COPY column order), the apply SQL
templates and reconciliation (which columns are hashed on both sides), so a column is named once.
Types are the source's (sql/source/V001__shop_schema.sql), so COPY's text input parses the
curated record's strings (decimals, ISO timestamps) exactly as the source wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass

from etl.records import PRIMARY_KEYS
from etl.settings import CAPTURED_TABLES


@dataclass(frozen=True)
class Entity:
    name: str  # source table name = curated record's `entity`
    key: str  # single-column primary key
    columns: tuple[tuple[str, str], ...]  # business columns after the key: (name, type)
    target: str  # warehouse table it lands in
    current_view: str  # warehouse relation with the current state under source column names

    @property
    def staging_table(self) -> str:
        return f"stg_{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


_TS = "timestamptz"

ENTITIES: dict[str, Entity] = {
    "customers": Entity(
        "customers",
        "customer_id",
        (
            ("email", "text"),
            ("full_name", "text"),
            ("country", "text"),
            ("created_at", _TS),
            ("updated_at", _TS),
        ),
        "dw.dim_customer",
        "dw.current_customers",
    ),
    "products": Entity(
        "products",
        "product_id",
        (
            ("sku", "text"),
            ("name", "text"),
            ("category", "text"),
            ("unit_price", "numeric(12,2)"),
            ("currency", "text"),
            ("created_at", _TS),
            ("updated_at", _TS),
        ),
        "dw.dim_product",
        "dw.current_products",
    ),
    "orders": Entity(
        "orders",
        "order_id",
        (
            ("customer_id", "bigint"),
            ("status", "text"),
            ("currency", "text"),
            ("total_amount", "numeric(14,2)"),
            ("ordered_at", _TS),
            ("updated_at", _TS),
        ),
        "dw.fact_orders",
        "dw.current_orders",
    ),
    "order_items": Entity(
        "order_items",
        "order_item_id",
        (
            ("order_id", "bigint"),
            ("product_id", "bigint"),
            ("quantity", "integer"),
            ("unit_price", "numeric(12,2)"),
        ),
        "dw.fact_order_items",
        "dw.current_order_items",
    ),
}

#: Change-record metadata staged with every row, before the key and business columns.
META_COLUMNS: tuple[tuple[str, str], ...] = (
    ("version", "bigint"),
    ("source_ts_ms", "bigint"),
    ("deleted", "boolean"),
)

assert tuple(ENTITIES) == CAPTURED_TABLES, "one Entity per captured table, in dependency order"
assert all((e.key,) == PRIMARY_KEYS[e.name] for e in ENTITIES.values()), "keys follow the contract"
