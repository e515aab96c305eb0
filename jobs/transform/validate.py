"""Per-record validation as column expressions: adds `violations`, an array of (rule, reason).

An empty array means the record is good. Checks, in the order their violations are listed:

- `malformed`: the value is not a Debezium envelope (`parse_error`); nothing else is checked;
- `envelope.op`, `envelope.required`, `envelope.type`: op in c/u/d/r, source.lsn/source.ts_ms/
  ts_ms present and integers (an LSN or txId not negative, epoch milliseconds within years
  1970-9999), source.txId an integer when present;
- `envelope.table`: `source.table`, when present, names the topic's table (a valid change of
  another table on this topic is not taken for one of this table);
- `envelope.row`: c/u/r carry `after`, d carries `before` (t, a TRUNCATE, carries no row);
- `required`, `type`: every column present and in its Debezium encoding (for key-only deletes,
  just the key columns; an update's unchanged TOASTed columns, whose value was not sent, are
  skipped);
- the business rules of `etl.rules` (declared once, also checked in the warehouse), on full
  rows only.

No Python UDFs: everything runs inside the JVM, so validation costs no serialisation to Python.
The list of violations is built only for records that fail a check: building it takes a
higher-order `filter`, which Spark evaluates row by row outside generated code (30% of the
transform's executor time in a jstack sample, for every record); the checks' conditions alone,
OR-ed, run in generated code.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import cache, reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DataType, DecimalType, IntegerType, LongType, TimestampType

from etl.rules import ORDER_STATUSES
from jobs.transform.parse import EPOCH_MS_RANGE, NUL
from jobs.transform.rules import holds, rules_for
from jobs.transform.schemas import TABLE_COLUMNS, key_columns

OPS: tuple[str, ...] = ("c", "u", "d", "r", "t")
#: Ops that carry a row (`after`, or `before` for d); t (TRUNCATE) carries none.
ROW_OPS: tuple[str, ...] = ("c", "u", "d", "r")
_SHOWN_CHARS = 80


@dataclass(frozen=True)
class Check:
    """One check of a record: it fails where `failed` is true (null counts as passing)."""

    failed: Column
    rule: str
    reason: Column

    def violation(self) -> Column:
        """(rule, reason) where the check fails, else null."""
        return F.when(
            self.failed, F.struct(F.lit(self.rule).alias("rule"), self.reason.alias("reason"))
        )


def _shown(value: Column) -> Column:
    """A value quoted for a reason, cut to a readable length, U+0000 spelled out (`\\u0000`)."""
    cut = F.substring(value.cast("string"), 1, _SHOWN_CHARS)
    return F.concat(F.lit("'"), F.replace(cut, F.lit(NUL), F.lit("\\u0000")), F.lit("'"))


def type_name(dtype: DataType) -> str:
    if isinstance(dtype, IntegerType | LongType):
        return "an integer"
    if isinstance(dtype, DecimalType):
        return f"a decimal string fitting numeric({dtype.precision},{dtype.scale})"
    if isinstance(dtype, TimestampType):
        return "an ISO-8601 timestamp with zone, years 0001-9999 in UTC"
    return "a string without U+0000 (PostgreSQL text cannot hold it)"


def _envelope_checks(table: str) -> list[Check]:
    env, op = F.col("env"), F.col("op")
    checks = [
        Check(
            op.isNull() | ~op.isin(*OPS),
            "envelope.op",
            F.concat(
                F.lit(f"op must be one of {', '.join(OPS)}, got "),
                F.coalesce(_shown(op), F.lit("null")),
            ),
        )
    ]
    low, high = EPOCH_MS_RANGE
    counter, epoch_ms = "an integer >= 0", f"epoch milliseconds from {low} to {high}"
    fields = [
        ("source.lsn", env["source"]["lsn"], "version", True, counter),
        ("source.ts_ms", env["source"]["ts_ms"], "source_ts_ms", True, epoch_ms),
        ("ts_ms", env["ts_ms"], "event_ts_ms", True, epoch_ms),
        ("source.txId", env["source"]["txId"], "tx_id", False, counter),
    ]
    for label, raw, typed, required, expected in fields:
        if required:
            checks.append(Check(raw.isNull(), "envelope.required", F.lit(f"{label} is required")))
        checks.append(
            Check(
                raw.isNotNull() & F.col(typed).isNull(),
                "envelope.type",
                F.concat(F.lit(f"{label}: expected {expected}, got "), _shown(raw)),
            )
        )
    source_table = env["source"]["table"]
    checks.append(
        Check(
            source_table.isNotNull() & (source_table != F.lit(table)),
            "envelope.table",
            F.concat(
                F.lit("source.table: a change of "),
                _shown(source_table),
                F.lit(f" on the topic of '{table}'"),
            ),
        )
    )
    row_name = F.when(op == "d", F.lit("before")).otherwise(F.lit("after"))
    checks.append(
        Check(
            op.isin(*ROW_OPS) & F.col("state_raw").isNull(),
            "envelope.row",
            F.concat(F.lit("op '"), op, F.lit("' carries no `"), row_name, F.lit("` row")),
        )
    )
    return checks


def _column_checks(table: str, order_statuses: tuple[str, ...]) -> list[Check]:
    raw, typed, key_only = F.col("state_raw"), F.col("state"), F.col("key_only")
    row_name = F.when(F.col("op") == "d", F.lit("before")).otherwise(F.lit("after"))
    keys = key_columns(table)
    checks = []
    for spec in TABLE_COLUMNS[table]:
        applies = raw.isNotNull() & (
            F.lit(True)
            if spec.name in keys
            else ~key_only & ~F.array_contains(F.col("unchanged"), spec.name)
        )
        value, converted = raw[spec.name], typed[spec.name]
        label = F.concat(row_name, F.lit(f".{spec.name}"))
        checks.append(
            Check(applies & value.isNull(), "required", F.concat(label, F.lit(" is required")))
        )
        checks.append(
            Check(
                applies & value.isNotNull() & converted.isNull(),
                "type",
                F.concat(label, F.lit(f": expected {type_name(spec.dtype)}, got "), _shown(value)),
            )
        )
    for rule in rules_for(table, order_statuses):
        value = typed[rule.column]
        label = F.concat(row_name, F.lit(f".{rule.column} {rule.expectation}, got "))
        checks.append(
            Check(
                raw.isNotNull()
                & ~key_only
                & ~F.array_contains(F.col("unchanged"), rule.column)
                & value.isNotNull()
                & ~holds(rule.check, value),
                rule.name,
                F.concat(label, _shown(value)),
            )
        )
    return checks


def with_violations(
    parsed: DataFrame, table: str, order_statuses: tuple[str, ...] = ORDER_STATUSES
) -> DataFrame:
    """`parsed` (from `parse_envelope`) plus `violations`: array<struct<rule, reason>>."""
    return parsed.withColumn("violations", violations(table, order_statuses))


@cache  # built once per table and process: see jobs/transform/parse.py
def violations(table: str, order_statuses: tuple[str, ...] = ORDER_STATUSES) -> Column:
    """The `violations` column of `table`'s parsed rows."""
    checks = [*_envelope_checks(table), *_column_checks(table, order_statuses)]
    any_failed = reduce(operator.or_, (check.failed for check in checks))
    listed = F.filter(F.array(*(c.violation() for c in checks)), lambda v: v.isNotNull())
    malformed = F.array(
        F.struct(F.lit("malformed").alias("rule"), F.col("parse_error").alias("reason"))
    )
    empty = F.filter(malformed, lambda v: F.lit(False))
    return (
        F.when(F.col("tombstone"), empty)
        .when(F.col("parse_error").isNotNull(), malformed)
        .when(any_failed, listed)
        .otherwise(empty)
    )
