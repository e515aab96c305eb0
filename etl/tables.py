"""The captured source tables, declared once: key, columns with their types, replica identity,
and what reconciliation sums as the table's amount.

Everything that needs to know a captured table derives it from `CAPTURED`: the settings' table
list and topics, Debezium's `table.include.list` and the publication, the transform's Spark
schemas and validation, the curated record's key, the loader's staging tables and COPY order,
and reconciliation's hashes and sums. `sql/source/V001__shop_schema.sql` creates the tables;
`tests/unit/test_tables_catalog.py` reads the migrated database's own catalog and fails when the
SQL and this declaration disagree, so the two cannot drift.

Column types are spelled as PostgreSQL's `format_type()` prints them, so the comparison with the
catalog is plain string equality and the loader can use them verbatim in staging DDL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ReplicaIdentity = Literal["default", "full"]

#: Published (so its writes advance Debezium's slot while the shop is idle), never captured.
HEARTBEAT_TABLE = "debezium_heartbeat"
SOURCE_SCHEMA = "public"
#: What Debezium writes in place of a value it was not sent: an unchanged TOASTed column of an
#: update (PostgreSQL sends it only when it is part of the replica identity). Set on the
#: connector (`unavailable.value.placeholder`) from here; the transform recognises it by it.
UNAVAILABLE_VALUE_PLACEHOLDER = "__debezium_unavailable_value"

_NUMERIC = re.compile(r"^numeric\((\d+),(\d+)\)$")


@dataclass(frozen=True)
class Column:
    """One source column. Every captured column is NOT NULL in the source."""

    name: str
    sql_type: str  # as format_type() prints it: bigint, text, numeric(12,2), ...

    @property
    def numeric_precision_scale(self) -> tuple[int, int] | None:
        """(precision, scale) of a numeric(p,s) column, else None."""
        match = _NUMERIC.match(self.sql_type)
        return (int(match.group(1)), int(match.group(2))) if match else None


@dataclass(frozen=True)
class CapturedTable:
    """A source table Debezium captures, as every stage of the pipeline sees it."""

    name: str
    key: str  # single-column primary key
    columns: tuple[Column, ...]  # every column, in table order, the key first
    replica_identity: ReplicaIdentity
    #: SQL expression over the columns summed by reconciliation (tier 1), None: no amount
    amount: str | None = None

    def __post_init__(self) -> None:
        if not self.columns or self.columns[0].name != self.key:
            raise ValueError(f"{self.name}: the key column {self.key!r} must come first")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def key_columns(self) -> tuple[str, ...]:
        return (self.key,)

    @property
    def business_columns(self) -> tuple[Column, ...]:
        """The columns after the key."""
        return self.columns[1:]

    @property
    def full_row_deletes(self) -> bool:
        """REPLICA IDENTITY FULL: a delete carries the whole last row, not just the key."""
        return self.replica_identity == "full"

    @property
    def qualified_name(self) -> str:
        return f"{SOURCE_SCHEMA}.{self.name}"


def _columns(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(name, sql_type) for name, sql_type in pairs)


_TSTZ = "timestamp with time zone"

#: In dependency order (parents first): the order topics are listed and batches are applied.
CAPTURED: tuple[CapturedTable, ...] = (
    CapturedTable(
        "customers",
        "customer_id",
        _columns(
            ("customer_id", "bigint"),
            ("email", "text"),
            ("full_name", "text"),
            ("country", "character(2)"),
            ("created_at", _TSTZ),
            ("updated_at", _TSTZ),
        ),
        replica_identity="default",
    ),
    CapturedTable(
        "products",
        "product_id",
        _columns(
            ("product_id", "bigint"),
            ("sku", "text"),
            ("name", "text"),
            ("category", "text"),
            ("unit_price", "numeric(12,2)"),
            ("currency", "character(3)"),
            ("created_at", _TSTZ),
            ("updated_at", _TSTZ),
        ),
        replica_identity="default",
        amount="unit_price",
    ),
    CapturedTable(
        "orders",
        "order_id",
        _columns(
            ("order_id", "bigint"),
            ("customer_id", "bigint"),
            ("status", "text"),
            ("currency", "character(3)"),
            ("total_amount", "numeric(14,2)"),
            ("ordered_at", _TSTZ),
            ("updated_at", _TSTZ),
        ),
        replica_identity="full",
        amount="total_amount",
    ),
    CapturedTable(
        "order_items",
        "order_item_id",
        _columns(
            ("order_item_id", "bigint"),
            ("order_id", "bigint"),
            ("product_id", "bigint"),
            ("quantity", "integer"),
            ("unit_price", "numeric(12,2)"),
        ),
        replica_identity="full",
        amount="quantity * unit_price",
    ),
)

TABLES: dict[str, CapturedTable] = {t.name: t for t in CAPTURED}
CAPTURED_TABLES: tuple[str, ...] = tuple(TABLES)


def captured_table(name: str) -> CapturedTable:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a captured table: one of {', '.join(TABLES)}") from None


def publication_tables() -> tuple[str, ...]:
    """Tables in the publication: the captured ones plus the heartbeat table.

    The heartbeat table is published (so its writes reach the slot and advance it) but is not in
    `table.include.list`, so no topic carries it.
    """
    return (*CAPTURED_TABLES, HEARTBEAT_TABLE)
