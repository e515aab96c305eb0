"""What the transform expects of each source table: columns, Spark types, key, delete shape.

Mirrors `sql/source/V001__shop_schema.sql`. Debezium (JSON converter, no schemas,
`decimal.handling.mode=string`, `time.precision.mode=adaptive_time_microseconds`) encodes
bigint/integer as JSON numbers, numeric as exact decimal strings (`"25.00"`) and timestamptz as
ISO-8601 `ZonedTimestamp` strings in UTC (`"2026-11-27T07:43:22.842316Z"`).

The JSON is first read with every leaf as a *string* (`raw_row_schema`): Spark's JSON reader hands a
number's text to a string field, so nothing is lost and a wrong type never nulls a whole record.
Each value is then converted explicitly (`jobs.transform.parse.typed_value`), so a type error is
visible per field and can be reported with its reason. Fields the schema does not name (a column
added to the source table later) are ignored by `from_json`, so such a change never stops the job.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql.types import (
    DataType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from etl.records import PRIMARY_KEYS


@dataclass(frozen=True)
class ColumnSpec:
    """One source column: its name and the Spark type its Debezium encoding converts to."""

    name: str
    dtype: DataType


def _cols(*specs: tuple[str, DataType]) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(name, dtype) for name, dtype in specs)


_TS = TimestampType()
_BIGINT = LongType()
_TEXT = StringType()

#: Source columns per table, in table order. All of them are NOT NULL in the source.
TABLE_COLUMNS: dict[str, tuple[ColumnSpec, ...]] = {
    "customers": _cols(
        ("customer_id", _BIGINT),
        ("email", _TEXT),
        ("full_name", _TEXT),
        ("country", _TEXT),
        ("created_at", _TS),
        ("updated_at", _TS),
    ),
    "products": _cols(
        ("product_id", _BIGINT),
        ("sku", _TEXT),
        ("name", _TEXT),
        ("category", _TEXT),
        ("unit_price", DecimalType(12, 2)),
        ("currency", _TEXT),
        ("created_at", _TS),
        ("updated_at", _TS),
    ),
    "orders": _cols(
        ("order_id", _BIGINT),
        ("customer_id", _BIGINT),
        ("status", _TEXT),
        ("currency", _TEXT),
        ("total_amount", DecimalType(14, 2)),
        ("ordered_at", _TS),
        ("updated_at", _TS),
    ),
    "order_items": _cols(
        ("order_item_id", _BIGINT),
        ("order_id", _BIGINT),
        ("product_id", _BIGINT),
        ("quantity", IntegerType()),
        ("unit_price", DecimalType(12, 2)),
    ),
}

#: Tables with REPLICA IDENTITY FULL: a delete's `before` is the whole last row. The others
#: (DEFAULT identity) send only the key; Debezium fills their other NOT NULL columns with
#: placeholders ("" and 1970-01-01), which must be neither validated nor passed on as data.
FULL_ROW_DELETES: frozenset[str] = frozenset({"orders", "order_items"})


def key_columns(table: str) -> tuple[str, ...]:
    return PRIMARY_KEYS[table]


def raw_row_schema(table: str) -> StructType:
    """The row (`before`/`after`) with every column as a string, as first read from JSON."""
    return StructType([StructField(c.name, StringType()) for c in TABLE_COLUMNS[table]])


#: Name of the field `from_json` fills with the input when it is not an envelope-shaped object.
CORRUPT_FIELD = "_corrupt_record"


def raw_envelope_schema(table: str) -> StructType:
    """The Debezium envelope fields the transform uses, leaves as strings (see module doc)."""
    row = raw_row_schema(table)
    source = StructType([StructField(name, StringType()) for name in ("lsn", "txId", "ts_ms")])
    return StructType(
        [
            StructField("before", row),
            StructField("after", row),
            StructField("source", source),
            StructField("op", StringType()),
            StructField("ts_ms", StringType()),
            StructField(CORRUPT_FIELD, StringType()),
        ]
    )
