"""Consumer positions kept in the warehouse (`dw.etl_offsets`), next to the data they cover.

`advance_offsets` is a per-partition compare-and-set run inside the batch's transaction: it moves
a partition from the position this loader believes is stored to the batch's end, and fails if
the stored position is not that any more. That is the fence against a zombie: after a rebalance
the partition's new owner starts from the stored position and advances it, so a batch of the
previous owner that is still in flight finds a different position and rolls back instead of
applying its records a second time or moving the position backwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import psycopg

from etl.topics import TopicPartitionKey
from loaders.batch import OffsetRange

_READ = "SELECT topic, partition, next_offset FROM dw.etl_offsets WHERE topic = ANY(%s)"
_ADVANCE = (
    "UPDATE dw.etl_offsets SET next_offset = %s, batch_id = %s, loader_id = %s, updated_at = now()"
    " WHERE topic = %s AND partition = %s AND next_offset = %s"
)
_CREATE = (
    "INSERT INTO dw.etl_offsets (topic, partition, next_offset, batch_id, loader_id)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (topic, partition) DO NOTHING"
)


class Fenced(Exception):
    """The stored position of a partition moved under us: another loader owns it now."""

    def __init__(self, tp: TopicPartitionKey, expected: int | None) -> None:
        super().__init__(f"{tp[0]}[{tp[1]}]: stored offset is no longer {expected}")
        self.tp = tp


def stored_offsets(conn: psycopg.Connection, topics: Iterable[str]) -> dict[TopicPartitionKey, int]:
    """Next offset to consume per partition, as the warehouse knows it (absent: never loaded)."""
    rows = conn.execute(_READ, (list(topics),)).fetchall()
    return {(topic, partition): offset for topic, partition, offset in rows}


def advance_offsets(
    conn: psycopg.Connection,
    ranges: Mapping[TopicPartitionKey, OffsetRange],
    expected: Mapping[TopicPartitionKey, int | None],
    batch_id: int,
    loader_id: str,
) -> None:
    """Compare-and-set each partition's position to the batch's end; raise Fenced on a mismatch.

    Partitions are updated in sorted order, so two loaders never wait on each other's rows in
    opposite orders. Call inside the batch's transaction: the row locks taken here are held
    until it commits, so a concurrent owner waits and then sees the moved position.
    """
    with conn.cursor() as cur:
        for tp in sorted(ranges):
            before = expected.get(tp)
            if before is None:
                cur.execute(_CREATE, (*tp, ranges[tp].next, batch_id, loader_id))
            else:
                cur.execute(_ADVANCE, (ranges[tp].next, batch_id, loader_id, *tp, before))
            if cur.rowcount != 1:
                raise Fenced(tp, before)
