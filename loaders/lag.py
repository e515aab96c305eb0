"""Lag at each hop of the pipeline, judged by positions (LSNs, offsets), never by the data.

- source -> Kafka: the replication slot's confirmed_flush_lsn vs a target WAL position
  (`etl.source_db.wait_for_slot`);
- CDC topics -> transform job: the topics' ends vs the end offsets the job reports in its
  progress file (`etl.progress.TransformProgress.end_offsets`; no file: hop unknown);
- curated topics -> warehouse: the topics' ends vs the offsets stored in `dw.etl_offsets`.
"""

from __future__ import annotations

import psycopg

from etl.progress import TransformProgress
from etl.settings import Settings
from etl.topics import TopicPartitionKey, high_watermarks
from loaders.offsets import stored_offsets


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
    topics = settings.curated_topics()
    return behind(high_watermarks(settings, topics), stored_offsets(conn, topics))


def transform_lag(settings: Settings) -> dict[str, int] | None:
    """CDC messages the transform job has not reported as processed; None if it reports nothing.

    A partition the report does not name counts as processed up to offset 0: a job that has
    only said its first batch runs (no offsets yet, a new checkpoint) is behind by everything,
    not of unknown lag, so a drain waits for its first real report.
    """
    progress = TransformProgress.read(settings)
    if progress is None:
        return None
    topics = settings.cdc_topics()
    processed = {
        (topic, partition): offset
        for topic, partitions in progress.end_offsets.items()
        if topic in topics
        for partition, offset in partitions.items()
    }
    return behind(high_watermarks(settings, topics), processed)
