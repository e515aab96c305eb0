"""What the transform expects of each source table: columns, Spark types, key, delete shape.

Derived from the one declaration of the captured tables, `etl/tables.py` (checked against the
source catalog by a test). Debezium (JSON converter, no schemas, `decimal.handling.mode=string`,
`time.precision.mode=adaptive_time_microseconds`) encodes
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

from etl.tables import CAPTURED, Column, captured_table


@dataclass(frozen=True)
class ColumnSpec:
    """One source column: its name and the Spark type its Debezium encoding converts to."""

    name: str
    dtype: DataType


#: PostgreSQL types of captured columns -> Spark types (numeric(p,s) handled on its own).
_SPARK_TYPES: dict[str, DataType] = {
    "bigint": LongType(),
    "integer": IntegerType(),
    "text": StringType(),
    "timestamp with time zone": TimestampType(),
}


def spark_type(column: Column) -> DataType:
    """The Spark type a captured column's Debezium encoding converts to."""
    if (numeric := column.numeric_precision_scale) is not None:
        return DecimalType(*numeric)
    if column.sql_type.startswith("character("):
        return StringType()
    try:
        return _SPARK_TYPES[column.sql_type]
    except KeyError:
        raise ValueError(
            f"column {column.name}: no Spark type for PostgreSQL type {column.sql_type!r}"
        ) from None


#: Source columns per table, in table order (from `etl.tables`). All are NOT NULL in the source.
TABLE_COLUMNS: dict[str, tuple[ColumnSpec, ...]] = {
    table.name: tuple(ColumnSpec(c.name, spark_type(c)) for c in table.columns)
    for table in CAPTURED
}

#: Tables with REPLICA IDENTITY FULL: a delete's `before` is the whole last row. The others
#: (DEFAULT identity) send only the key; Debezium fills their other NOT NULL columns with
#: placeholders ("" and 1970-01-01), which must be neither validated nor passed on as data.
FULL_ROW_DELETES: frozenset[str] = frozenset(t.name for t in CAPTURED if t.full_row_deletes)


def key_columns(table: str) -> tuple[str, ...]:
    return captured_table(table).key_columns


def raw_row_schema(table: str) -> StructType:
    """The row (`before`/`after`) with every column as a string, as first read from JSON."""
    return StructType([StructField(c.name, StringType()) for c in TABLE_COLUMNS[table]])


#: Name of the field `from_json` fills with the input when it is not an envelope-shaped object.
CORRUPT_FIELD = "_corrupt_record"


def raw_envelope_schema(table: str) -> StructType:
    """The Debezium envelope fields the transform uses, leaves as strings (see module doc)."""
    row = raw_row_schema(table)
    source_fields = ("lsn", "txId", "ts_ms", "table")
    source = StructType([StructField(name, StringType()) for name in source_fields])
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
