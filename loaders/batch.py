"""A batch of curated change records, parsed into staging rows per entity plus offset ranges.

Parsing is the only per-record Python work: values stay the strings the transform job wrote
(decimals, ISO timestamps) and are typed by PostgreSQL during COPY. It is the largest share of a
batch's apply time that Python owns, hence orjson (measured here: 6 us per record against 12.5 us
for json.loads) and one `map` for the business columns. A record that is not a
curated change record (bad JSON, unknown entity, missing field) is counted as rejected and
logged with its coordinates; the transform job validates upstream, so this is a last guard,
not a data path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from etl.topics import TopicPartitionKey
from loaders.entities import ENTITIES

log = logging.getLogger(__name__)


@dataclass
class OffsetRange:
    first: int  # first offset consumed in this batch
    next: int  # last offset + 1: what the warehouse stores as the partition's position


@dataclass
class ChangeBatch:
    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in ENTITIES}
    )
    offsets: dict[TopicPartitionKey, OffsetRange] = field(default_factory=dict)
    rejected: int = 0
    max_source_ts_ms: int | None = None

    @property
    def rows_in(self) -> int:
        return sum(len(r) for r in self.rows.values()) + self.rejected

    def __len__(self) -> int:
        return self.rows_in

    def add(self, topic: str, partition: int, offset: int, value: bytes | None) -> None:
        """Account for one consumed message (every message moves the offset, even a bad one)."""
        rng = self.offsets.get((topic, partition))
        if rng is None:
            self.offsets[(topic, partition)] = OffsetRange(offset, offset + 1)
        else:
            rng.next = max(rng.next, offset + 1)
        if value is None:  # a tombstone: nothing to load, the delete record came before it
            return
        try:
            self.add_record(orjson.loads(value))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.rejected += 1
            log.error(
                "rejected curated record",
                extra={
                    "topic": topic,
                    "partition": partition,
                    "offset": offset,
                    "error": repr(exc),
                },
            )

    def add_record(self, record: dict[str, Any]) -> None:
        """Stage one curated change record (etl/records.py); KeyError/TypeError if malformed."""
        entity = ENTITIES[record["entity"]]
        data = record.get("data") or {}
        key = record["key"][entity.key]
        version = int(record["version"])
        ts_ms = int(record["source_ts_ms"])
        deleted = bool(record["deleted"]) or record.get("op") == "d"
        row = (version, ts_ms, deleted, key, *map(data.get, entity.column_names))
        self.rows[entity.name].append(row)
        if self.max_source_ts_ms is None or ts_ms > self.max_source_ts_ms:
            self.max_source_ts_ms = ts_ms
