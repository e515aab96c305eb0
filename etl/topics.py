"""Kafka topics: create the pipeline's own topics, count messages per topic."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from etl.errors import EtlError
from etl.settings import Settings


def ensure_topics(settings: Settings, topics: list[str]) -> list[str]:
    """Create missing topics with the configured partitions/replication; return those created."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    missing = [t for t in topics if t not in existing]
    if not missing:
        return []
    config = {"min.insync.replicas": str(settings.min_insync_replicas)}
    futures = admin.create_topics(
        [
            NewTopic(t, settings.topic_partitions, settings.replication_factor, config=config)
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


def message_counts(settings: Settings, topics: list[str]) -> dict[str, int | None]:
    """Messages currently held per topic (high minus low watermark over partitions).

    None for a topic that does not exist yet. Counts include Debezium's tombstones.
    """
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    metadata = admin.list_topics(timeout=10)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "etl-topic-counter",
            "enable.auto.commit": False,
        }
    )
    counts: dict[str, int | None] = {}
    try:
        for topic in topics:
            meta = metadata.topics.get(topic)
            if meta is None or meta.error is not None:
                counts[topic] = None
                continue
            total = 0
            for partition in meta.partitions:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=10
                )
                total += high - low
            counts[topic] = total
    finally:
        consumer.close()
    return counts
