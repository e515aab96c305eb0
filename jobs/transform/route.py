"""Debezium rows -> Kafka rows for the curated and dead-letter topics.

`route_tables` is the whole transform as a pure DataFrame -> DataFrame function: per table it
parses, validates and renders each record in one projection, tags it `curated` or `dlq`, drops
tombstones, and unions the tables. The result (`topic`, `key`, `value`, `kind`) goes to Kafka in
one write: the sink takes the topic per row.

Each table comes as its own DataFrame (in the job: its own Kafka source) rather than one frame
filtered per table: a filtered union would read every message once per table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from etl.rules import ORDER_STATUSES
from etl.settings import Settings
from etl.tables import CAPTURED_TABLES
from jobs.transform.normalize import curated_key, curated_value, dead_letter_value
from jobs.transform.parse import parse_envelope
from jobs.transform.validate import with_violations

OUTPUT_COLUMNS: tuple[str, ...] = ("topic", "key", "value", "kind")


@dataclass(frozen=True)
class TopicMap:
    """Where records come from and go: CDC topic -> table, table -> curated topic, the DLQ."""

    sources: Mapping[str, str]
    curated: Mapping[str, str]
    dlq: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicMap:
        return cls(
            sources={settings.cdc_topic(t): t for t in CAPTURED_TABLES},
            curated={t: settings.curated_topic(t) for t in CAPTURED_TABLES},
            dlq=settings.dlq_topic,
        )

    def source_pattern(self, table: str) -> str:
        """Kafka `subscribePattern` of one table's CDC topic. A pattern, not `subscribe`: the
        topic may not exist yet (Connect creates it with the first change) and that is fine."""
        (topic,) = (t for t, name in self.sources.items() if name == table)
        return f"^{re.escape(topic)}$"

    def output_topics(self) -> list[str]:
        return [self.dlq, *self.curated.values()]


def route_table(
    raw: DataFrame,
    table: str,
    curated_topic: str,
    dlq_topic: str,
    order_statuses: tuple[str, ...] = ORDER_STATUSES,
) -> DataFrame:
    """Kafka rows of one table's CDC topic -> output rows (tombstones dropped)."""
    checked = with_violations(parse_envelope(raw, table), table, order_statuses)
    return (
        checked.withColumn("kind", _kind())
        .where(F.col("kind").isNotNull())
        .select(*_output_columns(table, curated_topic, dlq_topic))
    )


@cache  # built once per process: see jobs/transform/parse.py
def _kind() -> Column:
    return (
        F.when(F.col("tombstone"), F.lit(None))
        .when(F.size("violations") == 0, F.lit("curated"))
        .otherwise(F.lit("dlq"))
    )


@cache
def _output_columns(table: str, curated_topic: str, dlq_topic: str) -> tuple[Column | str, ...]:
    good = F.col("kind") == "curated"
    return (
        F.when(good, F.lit(curated_topic)).otherwise(F.lit(dlq_topic)).alias("topic"),
        F.when(good, curated_key(table)).otherwise(F.col("key")).alias("key"),
        F.when(good, curated_value(table)).otherwise(dead_letter_value(table)).alias("value"),
        "kind",
    )


def route_tables(
    frames: Mapping[str, DataFrame],
    topics: TopicMap,
    order_statuses: tuple[str, ...] = ORDER_STATUSES,
) -> DataFrame:
    """Kafka rows per table (each frame holds one table's CDC topic) -> all output rows."""
    parts = [
        route_table(frame, table, topics.curated[table], topics.dlq, order_statuses)
        for table, frame in frames.items()
    ]
    return reduce(DataFrame.unionByName, parts)
