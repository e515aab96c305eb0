"""Kafka keys and values of curated and dead-letter records, as column expressions.

Curated value: exactly `etl.records.CuratedRecord` as JSON. Decimals are strings (exact),
timestamps ISO-8601 in UTC with microseconds (`2026-11-27T07:43:22.842316Z`, rendered in UTC
whatever the session time zone), nulls written out (`"tx_id": null`). A key-only delete
(DEFAULT replica identity) carries the key columns in `data` and null for every other column:
Debezium does not know them (it sends placeholders, which are not passed on). So does an
update's unchanged TOASTed column, named in `unchanged` (the loader keeps the stored value). A
TRUNCATE (op `t`) carries null for every key and data column.

Dead-letter value (JSON; key = the original Kafka key bytes, so it partitions like the source):

    {"rule": "quantity_positive",                # first violated rule
     "reason": "after.quantity must be > 0, got '0'",
     "violations": [{"rule": ..., "reason": ...}],  # all of them
     "entity": "order_items",                    # the source table
     "source": {"topic": ..., "partition": 0, "offset": 12, "timestamp_ms": ...},
     "original": {"key_base64": ..., "value_base64": ...,   # exact bytes (null if null)
                  "key_text": ..., "value_text": ...},      # UTF-8 text, null if not UTF-8
                                                            # or over 64 KiB (base64 has it)
     "failed_at": "2026-11-27T07:43:23.001000Z"}
"""

from __future__ import annotations

from functools import cache

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DecimalType

from etl.topics import DEAD_LETTER_TEXT_MAX_BYTES
from jobs.transform.schemas import TABLE_COLUMNS, key_columns

_JSON_OPTIONS = {
    "ignoreNullFields": "false",
    "timestampFormat": "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX",
    "timeZone": "UTC",
}


def _data(table: str) -> Column:
    keys = key_columns(table)
    fields = []
    for spec in TABLE_COLUMNS[table]:
        value = F.col("state")[spec.name]
        if isinstance(spec.dtype, DecimalType):
            value = value.cast("string")
        if spec.name not in keys:
            sent = ~F.col("key_only") & ~F.array_contains(F.col("unchanged"), spec.name)
            value = F.when(sent, value)
        fields.append(value.alias(spec.name))
    return F.struct(*fields)


def _key(table: str) -> Column:
    return F.struct(*(F.col("state")[name].alias(name) for name in key_columns(table)))


@cache  # built once per table and process: see jobs/transform/parse.py
def curated_key(table: str) -> Column:
    """The curated Kafka key: the primary key as a JSON object, e.g. `{"order_id":42}`."""
    return F.to_json(_key(table), _JSON_OPTIONS).cast("binary")


@cache  # built once per table and process: see jobs/transform/parse.py
def curated_value(table: str) -> Column:
    """The curated Kafka value: a `CuratedRecord` as JSON (rows without violations only)."""
    record = F.struct(
        F.lit(table).alias("entity"),
        F.col("op"),
        _key(table).alias("key"),
        F.col("version"),
        F.col("tx_id"),
        F.col("source_ts_ms"),
        F.col("event_ts_ms"),
        (F.col("op") == "d").alias("deleted"),
        _data(table).alias("data"),
        F.col("unchanged"),
    )
    return F.to_json(record, _JSON_OPTIONS)


def _original(column: str) -> tuple[Column, Column]:
    raw = F.col(column)
    text = F.when(F.length(raw) <= DEAD_LETTER_TEXT_MAX_BYTES, raw.cast("string"))
    return (
        # Spark's base64 may wrap lines MIME-style (spark.sql.chunkBase64String.enabled).
        F.regexp_replace(F.base64(raw), r"\s", "").alias(f"{column}_base64"),
        F.try_validate_utf8(text).alias(f"{column}_text"),
    )


@cache  # built once per table and process: see jobs/transform/parse.py
def dead_letter_value(entity: str) -> Column:
    """The DLQ Kafka value of a row with `violations` and the Kafka source columns."""
    first = F.col("violations")[0]
    letter = F.struct(
        first["rule"].alias("rule"),
        first["reason"].alias("reason"),
        F.col("violations"),
        F.lit(entity).alias("entity"),
        F.struct(
            F.col("topic"),
            F.col("partition"),
            F.col("offset"),
            F.unix_millis(F.col("timestamp")).alias("timestamp_ms"),
        ).alias("source"),
        F.struct(*_original("key"), *_original("value")).alias("original"),
        failed_now().alias("failed_at"),
    )
    return F.to_json(letter, _JSON_OPTIONS)


def failed_now() -> Column:
    """The wall-clock time a row is dead-lettered, read per row.

    Not `current_timestamp()`: Spark folds that into a literal of each batch's start, so in
    real-time mode it was up to a checkpoint interval early, and being a different literal every
    batch it made every batch generate, compile and JIT new code (the idle driver's largest CPU
    cost). A reflective call is evaluated per row and leaves the generated code the same.
    """
    millis = F.reflect(F.lit("java.lang.System"), F.lit("currentTimeMillis")).cast("bigint")
    return F.timestamp_millis(millis)
