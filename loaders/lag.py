"""Lag at each hop of the pipeline, judged by positions (LSNs, offsets), never by the data.

- source -> Kafka: the replication slot's confirmed_flush_lsn vs a target WAL position;
- CDC topics -> transform job: the topics' ends vs the end offsets the job reports in
  `run_dir/transform-progress.json` (Spark's progress shape: `{topic: {partition: offset}}`
  anywhere in the file, e.g. under `sources[].endOffset`; absent file: hop unknown);
- curated topics -> warehouse: the topics' ends vs the offsets stored in `dw.etl_offsets`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition

from etl.settings import CAPTURED_TABLES, Settings
from loaders.batch import TopicPartitionKey
from loaders.offsets import stored_offsets

TRANSFORM_PROGRESS_FILE = "transform-progress.json"


def high_watermarks(settings: Settings, topics: Iterable[str]) -> dict[TopicPartitionKey, int]:
    """End offset of every partition of `topics` (missing topics are left out)."""
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "etl-lag-probe",
            "enable.auto.commit": False,
        }
    )
    try:
        marks: dict[TopicPartitionKey, int] = {}
        metadata = consumer.list_topics(timeout=10)
        for topic in topics:
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None:
                continue
            for partition in meta.partitions:
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                marks[(topic, partition)] = high
        return marks
    finally:
        consumer.close()


def behind(
    ends: dict[TopicPartitionKey, int], positions: dict[TopicPartitionKey, int]
) -> dict[str, int]:
    """Messages not yet consumed per partition ("topic[p]": n), only where n > 0."""
    return {
        f"{t}[{p}]": end - positions.get((t, p), 0)
        for (t, p), end in ends.items()
        if positions.get((t, p), 0) < end
    }


def curated_lag(settings: Settings, conn: psycopg.Connection) -> dict[str, int]:
    topics = [settings.curated_topic(t) for t in CAPTURED_TABLES]
    return behind(high_watermarks(settings, topics), stored_offsets(conn, topics))


def _topic_offsets(node: Any, topics: set[str], found: dict[TopicPartitionKey, int]) -> None:
    if isinstance(node, str) and node.startswith("{"):
        try:
            node = json.loads(node)
        except ValueError:
            return
    if isinstance(node, dict):
        for key, value in node.items():
            if key in topics and isinstance(value, dict):
                for partition, offset in value.items():
                    if str(partition).isdigit() and isinstance(offset, int):
                        tp = (key, int(partition))
                        found[tp] = max(found.get(tp, 0), offset)
            else:
                _topic_offsets(value, topics, found)
    elif isinstance(node, list):
        for value in node:
            _topic_offsets(value, topics, found)


def transform_lag(settings: Settings) -> dict[str, int] | None:
    """CDC messages the transform job has not reported as processed; None if it reports nothing."""
    path = settings.run_dir / TRANSFORM_PROGRESS_FILE
    try:
        progress = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    topics = [settings.cdc_topic(t) for t in CAPTURED_TABLES]
    processed: dict[TopicPartitionKey, int] = {}
    _topic_offsets(progress, set(topics), processed)
    if not processed:
        return None
    return behind(high_watermarks(settings, topics), processed)
