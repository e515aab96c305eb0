"""One local SparkSession for all transform unit tests (a JVM start costs ~5 s), and helpers
that build Kafka-source-shaped DataFrames from Python values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

from etl.settings import Settings
from jobs.transform.session import build_spark_session

#: The columns of Spark's Kafka source that the transform reads.
KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_spark_session(Settings(), app_name="etl-transform-unit-tests")
    yield session
    session.stop()


def as_bytes(value: Any) -> bytes | None:
    """None stays None (a tombstone), bytes stay, str is UTF-8, anything else is JSON."""
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def kafka_rows(spark: SparkSession, topic: str, values: list[Any], *, key: Any = None) -> DataFrame:
    """Kafka-source rows on `topic`, one per value, offsets 0..n-1 on partition 0."""
    stamp = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    rows = [
        (as_bytes(key), as_bytes(value), topic, 0, offset, stamp)
        for offset, value in enumerate(values)
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def routed(spark: SparkSession, table: str, values: list[Any], *, key: Any = None) -> list[dict]:
    """Run `route_table` on values of `table`'s topic; each output row with its value parsed."""
    from jobs.transform.route import route_table

    frame = kafka_rows(spark, f"cdc.public.{table}", values, key=key)
    rows = route_table(frame, table, f"curated.{table}", "dlq").collect()
    return [
        {"topic": r.topic, "kind": r.kind, "key": r.key, "value": json.loads(r.value)} for r in rows
    ]


def one(spark: SparkSession, table: str, value: Any, *, key: Any = None) -> dict:
    """The single output row of one input value (fails if there is not exactly one)."""
    rows = routed(spark, table, [value], key=key)
    assert len(rows) == 1, rows
    return rows[0]
