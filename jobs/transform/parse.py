"""Kafka rows of one Debezium topic -> typed change columns (pure DataFrame -> DataFrame).

Input: the Kafka source's columns (`key`, `value` binary; `topic`, `partition`, `offset`,
`timestamp`). Output keeps those (the dead-letter topic needs the original bytes) and adds:

- `tombstone`: the null value Debezium sends after a delete (dropped later, never an error);
- `parse_error`: why the value is not a Debezium envelope (not UTF-8, not JSON, wrong shape);
- `env`: the envelope as read, leaves as strings (for per-field type checks and DLQ reasons);
- `op`, `version` (source.lsn), `tx_id` (source.txId), `source_ts_ms`, `event_ts_ms`: typed;
- `state_raw` / `state`: the row the change carries, as strings / typed: `after` for c/u/r,
  `before` for d (the last state Debezium knows);
- `key_only`: a delete of a DEFAULT-identity table, whose `before` holds only the key;
- `unchanged`: the columns of an update that PostgreSQL did not send (unchanged TOASTed values,
  which Debezium replaces with `UNAVAILABLE_VALUE_PLACEHOLDER`); empty for every other record.
  Their value is unknown here, so they are neither validated nor passed on: the loader keeps the
  value the warehouse holds (docs/corner-cases.md).

Op `t` (a TRUNCATE, captured since `skipped.operations=none`) carries no row: its state is null.

Conversions never raise (Spark 4 runs ANSI SQL, where a plain cast of bad input fails the whole
query): each is guarded by a pattern for the exact Debezium encoding, then `try_cast`. A value
converts only if the warehouse can hold it too (hostile input found these, docs/transform.md,
"Hostile input"): text without U+0000 (PostgreSQL text cannot hold it), timestamps within years
0001-9999 in UTC (PostgreSQL has no year 0), LSNs, transaction ids and epoch milliseconds not
negative and the latter not past 9999 (the loader turns them into timestamps). A `\\uD800`-style
escape of an unpaired UTF-16 surrogate makes the whole value malformed: Java's JSON parser would
accept it and Spark would silently store `?` in its place.
"""

from __future__ import annotations

from functools import cache

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DecimalType, IntegerType, LongType, TimestampType

from etl.tables import UNAVAILABLE_VALUE_PLACEHOLDER
from jobs.transform.schemas import (
    CORRUPT_FIELD,
    FULL_ROW_DELETES,
    TABLE_COLUMNS,
    key_columns,
    raw_envelope_schema,
)

_INTEGER = r"^-?[0-9]+$"
#: ISO-8601 with an explicit zone: a timestamp without one would depend on the session time zone.
_ZONED_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"  # date and time
    r"(\.[0-9]{1,9})?"  # fraction
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"  # zone
)

#: The Kafka source's columns the output keeps (a dead letter needs the original bytes).
KAFKA_COLUMNS: tuple[str, ...] = ("topic", "partition", "offset", "timestamp", "key", "value")

#: Strict JSON where Spark's reader is lenient by default: single-quoted strings are malformed.
_JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT_FIELD,
    "allowSingleQuotes": "false",
}

#: Microseconds since the epoch of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the
#: timestamps both Spark and PostgreSQL hold (Spark parses year 0000, PostgreSQL refuses it).
TIMESTAMP_MICROS_RANGE: tuple[int, int] = (-62_135_596_800_000_000, 253_402_300_799_999_999)
#: Epoch milliseconds the loader can turn into a PostgreSQL timestamp: 1970 to the end of 9999.
EPOCH_MS_RANGE: tuple[int, int] = (0, 253_402_300_799_999)
#: The character PostgreSQL's text and jsonb cannot hold.
NUL = "\u0000"
#: A JSON `\\uXXXX` escape of an unpaired UTF-16 surrogate (after an even run of backslashes, so
#: not an escaped backslash followed by `uD800`): a high one not followed by a low one, or a low
#: one not preceded by a high one.
_HEX2 = "[0-9a-fA-F]{2}"
_LONE_SURROGATE = (
    r"(?<!\\)(?:\\\\)*"
    rf"(?:\\u[dD][89abAB]{_HEX2}(?!\\u[dD][c-fC-F]{_HEX2})"
    rf"|(?<!\\u[dD][89abAB]{_HEX2})\\u[dD][c-fC-F]{_HEX2})"
)


def decimal_pattern(dtype: DecimalType) -> str:
    """Plain decimal text that fits numeric(p,s) exactly: no exponent, no rounding needed."""
    whole = dtype.precision - dtype.scale
    return rf"^-?[0-9]{{1,{whole}}}(\.[0-9]{{1,{dtype.scale}}})?$"


def typed_value(raw: Column, dtype: DataType) -> Column:
    """The raw JSON text converted to `dtype`; null when it is null, not a valid encoding, or a
    value the warehouse cannot hold (see module doc)."""
    if isinstance(dtype, IntegerType | LongType):
        return F.when(raw.rlike(_INTEGER), raw.try_cast(dtype))
    if isinstance(dtype, DecimalType):
        return F.when(raw.rlike(decimal_pattern(dtype)), raw.try_cast(dtype))
    if isinstance(dtype, TimestampType):
        converted = F.when(raw.rlike(_ZONED_TIMESTAMP), raw.try_cast(dtype))
        return F.when(F.unix_micros(converted).between(*TIMESTAMP_MICROS_RANGE), converted)
    return F.when(~raw.contains(NUL), raw)


def bounded_long(raw: Column, lowest: int, highest: int | None = None) -> Column:
    """The raw JSON text as a long in [lowest, highest]; null when it is not one."""
    converted = typed_value(raw, LongType())
    in_range = converted >= lowest if highest is None else converted.between(lowest, highest)
    return F.when(in_range, converted)


def _typed_row(raw_row: Column, table: str) -> Column:
    fields = [typed_value(raw_row[c.name], c.dtype).alias(c.name) for c in TABLE_COLUMNS[table]]
    return F.when(raw_row.isNotNull(), F.struct(*fields))


def _parse_error(text: Column, env: Column) -> Column:
    value = F.col("value")
    return (
        F.when(value.isNull(), F.lit(None))
        .when(text.isNull(), F.lit("value is not valid UTF-8"))
        .when(
            text.contains("\\u") & text.rlike(_LONE_SURROGATE),
            F.lit("value escapes an unpaired UTF-16 surrogate (\\uD800-\\uDFFF): not Unicode text"),
        )
        .when(
            env.isNull() | env[CORRUPT_FIELD].isNotNull(),
            F.lit("value is not a JSON object of the Debezium envelope shape"),
        )
    )


def unchanged_columns(state_raw: Column, op: Column, table: str) -> Column:
    """Names of the update's columns that hold Debezium's placeholder (array, maybe empty).

    Built with `concat_ws` (which skips nulls) and `split`, not a higher-order `filter`: those
    run row by row outside generated code (see jobs/transform/validate.py).
    """
    keys = key_columns(table)
    names = [
        F.when(state_raw[c.name] == F.lit(UNAVAILABLE_VALUE_PLACEHOLDER), F.lit(c.name))
        for c in TABLE_COLUMNS[table]
        if c.name not in keys
    ]
    joined = F.concat_ws(",", *names)
    empty = F.array().cast("array<string>")
    return F.when(
        (op == "u") & state_raw.isNotNull() & (joined != ""), F.split(joined, ",")
    ).otherwise(empty)


def parse_envelope(raw: DataFrame, table: str) -> DataFrame:
    """Typed change columns for Kafka rows of `table`'s Debezium topic (see module doc)."""
    return raw.select(*_decoded_columns(table)).select(*_change_columns(table))


# The two projections are built once per table and process (functools.cache), like every column
# builder of the transform: building one is thousands of Py4J calls (seconds), and the unit
# tests route the same tables hundreds of times. A Column is an unresolved expression, valid
# for any DataFrame and session of the JVM.
@cache
def _decoded_columns(table: str) -> tuple[Column | str, ...]:
    text = F.try_validate_utf8(F.col("value").cast("string"))
    return (
        *KAFKA_COLUMNS,
        F.col("value").isNull().alias("tombstone"),
        F.from_json(text, raw_envelope_schema(table), _JSON_OPTIONS).alias("env"),
        text.alias("_text"),
    )


@cache
def _change_columns(table: str) -> tuple[Column | str, ...]:
    env = F.col("env")
    op = env["op"]
    state_raw = F.when(op == "d", env["before"]).otherwise(env["after"])
    return (
        *KAFKA_COLUMNS,
        "tombstone",
        _parse_error(F.col("_text"), env).alias("parse_error"),
        "env",
        op.alias("op"),
        bounded_long(env["source"]["lsn"], 0).alias("version"),
        bounded_long(env["source"]["txId"], 0).alias("tx_id"),
        bounded_long(env["source"]["ts_ms"], *EPOCH_MS_RANGE).alias("source_ts_ms"),
        bounded_long(env["ts_ms"], *EPOCH_MS_RANGE).alias("event_ts_ms"),
        state_raw.alias("state_raw"),
        _typed_row(state_raw, table).alias("state"),
        ((op == "d") & F.lit(table not in FULL_ROW_DELETES)).alias("key_only"),
        unchanged_columns(state_raw, op, table).alias("unchanged"),
    )
