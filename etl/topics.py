"""Kafka topics: create the pipeline's own topics, read where each partition begins and ends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from etl.errors import EtlError
from etl.settings import Settings
from etl.tables import CAPTURED_TABLES

#: (topic, partition): how offsets and positions are keyed everywhere in the project.
TopicPartitionKey = tuple[str, int]
#: Consumer group of the read-only probes below; they never commit, so it holds no offsets.
PROBE_GROUP = "etl-offset-probe"

#: Kafka's default `message.max.bytes`: the largest record batch the broker, and so every CDC
#: and curated topic, takes (the project keeps the default).
KAFKA_MAX_MESSAGE_BYTES = 1_048_588
#: Up to this size an original key or value is also in its dead letter as text (`*_text`);
#: above it only as base64. The text copy is a convenience for reading the DLQ and costs up to
#: 6 bytes per byte (JSON escapes control characters as \u00XX).
DEAD_LETTER_TEXT_MAX_BYTES = 64 * 1024
#: The DLQ topic's `max.message.bytes` and its producers' request size: a dead letter holds the
#: original key and value as base64 (4/3 of at most KAFKA_MAX_MESSAGE_BYTES, 1.4 MB), their
#: text copies (at most 2 x 6 x DEAD_LETTER_TEXT_MAX_BYTES, 0.8 MB) and its reasons (each value
#: shown cut to 80 characters): under 2.3 MB for the largest record the CDC topics take. Without
#: this a dead letter of a 0.6 MB original exceeded Kafka's default 1 MB and failed the query.
DLQ_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: How long the broker may hold a fetch of a consumer with fixed partitions while no record
#: comes (the transform's sources, Connect's internal-topic consumers). A record that arrives on
#: a partition of the fetch completes it at once (fetch.min.bytes is 1), so this costs no
#: latency; it saves the idle round trips the broker and each client served twice a second at
#: Kafka's default (500 ms). Measured at idle: Connect sent the broker 11.6 TCP segments a
#: second before, 6.1 after. Not for group members whose partitions move (loaders/service.py).
IDLE_FETCH_MAX_WAIT_MS = 5000


def topic_config(settings: Settings, topic: str) -> dict[str, str]:
    """Kafka topic config of one of the pipeline's own topics (the DLQ takes larger records)."""
    config = {"min.insync.replicas": str(settings.min_insync_replicas)}
    if topic == settings.dlq_topic:
        config["max.message.bytes"] = str(DLQ_MAX_MESSAGE_BYTES)
    return config


def transform_task_slots(settings: Settings) -> int:
    """Task slots (cores) the transform needs: real-time mode runs one long-lived task per
    source partition at once (too few slots starve some partitions silently, Spark 4.2 does
    not check); micro-batches share two. The local master and the Docker Spark workers are
    sized by this one function."""
    if settings.transform_mode != "realtime":
        return 2
    return len(CAPTURED_TABLES) * settings.topic_partitions


def ensure_topics(settings: Settings, topics: list[str]) -> list[str]:
    """Create missing topics with the configured partitions/replication and `topic_config`;
    return those created. An existing DLQ topic gets its `max.message.bytes` set (a topic
    created before that limit was raised)."""
    admin = AdminClient(settings.kafka_client_config())
    existing = set(admin.list_topics(timeout=10).topics)
    if settings.dlq_topic in topics and settings.dlq_topic in existing:
        _raise_message_limit(admin, settings.dlq_topic)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t,
                settings.topic_partitions,
                settings.replication_factor,
                config=topic_config(settings, t),
            )
            for t in missing
        ]
    )
    for topic, future in futures.items():
        try:
            future.result(timeout=30)
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise EtlError(f"could not create topic {topic}: {exc}") from exc
    return missing


def _raise_message_limit(admin: AdminClient, topic: str) -> None:
    """Set `max.message.bytes` of an existing topic to DLQ_MAX_MESSAGE_BYTES (idempotent)."""
    resource = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(
                "max.message.bytes",
                str(DLQ_MAX_MESSAGE_BYTES),
                incremental_operation=AlterConfigOpType.SET,
            )
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        try:
            future.result(timeout=30)
        except Exception as exc:
            raise EtlError(f"could not set max.message.bytes of topic {topic}: {exc}") from exc


def watermarks(
    settings: Settings, topics: Iterable[str]
) -> dict[str, dict[int, tuple[int, int]] | None]:
    """(low, high) offsets of every partition per topic; None for a topic that does not exist."""
    consumer = Consumer(
        settings.kafka_client_config(**{"group.id": PROBE_GROUP, "enable.auto.commit": False})
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        marks: dict[str, dict[int, tuple[int, int]] | None] = {}
        for topic in topics:
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None:
                marks[topic] = None
                continue
            marks[topic] = {
                partition: consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                for partition in meta.partitions
            }
        return marks
    finally:
        consumer.close()


def high_watermarks(settings: Settings, topics: Iterable[str]) -> dict[TopicPartitionKey, int]:
    """End offset of every partition of `topics` (missing topics are left out)."""
    return {
        (topic, partition): high
        for topic, partitions in watermarks(settings, topics).items()
        for partition, (_low, high) in (partitions or {}).items()
    }


def message_counts(settings: Settings, topics: list[str]) -> dict[str, int | None]:
    """Messages currently held per topic (high minus low watermark over partitions).

    None for a topic that does not exist yet. Counts include Debezium's tombstones.
    """
    return {
        topic: None if partitions is None else sum(high - low for low, high in partitions.values())
        for topic, partitions in watermarks(settings, topics).items()
    }


def read_topic(settings: Settings, topic: str, limit: int | None = None) -> Iterator[Message]:
    """Every message `topic` holds now, partition by partition interleaved, then stop.

    The ends are taken first, so messages produced meanwhile are not waited for; `limit` bounds
    how many are read. Never commits (the probe group holds no offsets). A missing topic reads
    as empty.
    """
    marks = watermarks(settings, [topic])[topic] or {}
    remaining = {p: high for p, (low, high) in marks.items() if high > low}
    if not remaining:
        return
    consumer = Consumer(
        settings.kafka_client_config(
            **{"group.id": PROBE_GROUP, "enable.auto.commit": False, "enable.partition.eof": True}
        )
    )
    try:
        consumer.assign([TopicPartition(topic, p, marks[p][0]) for p in remaining])
        read = 0
        while remaining and (limit is None or read < limit):
            msg = consumer.poll(5)
            if msg is None:
                break
            partition = msg.partition() or 0
            if msg.error():  # end of a partition (enable.partition.eof) or a broken one
                remaining.pop(partition, None)
                continue
            if partition not in remaining:
                continue
            read += 1
            yield msg
            if (msg.offset() or 0) + 1 >= remaining[partition]:
                remaining.pop(partition, None)
    finally:
        consumer.close()
