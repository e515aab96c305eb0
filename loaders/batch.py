"""A batch of curated change records, parsed into staging rows per entity plus offset ranges.

Parsing is the only per-record Python work: values stay the strings the transform job wrote
(decimals, ISO timestamps) and are typed by PostgreSQL during COPY. It is the largest share of a
batch's apply time that Python owns, hence orjson (measured here: 6 us per record against 12.5 us
for json.loads) and one `map` for the business columns. A record that is not a
curated change record (bad JSON, unknown entity, missing field) is counted as rejected, logged
with its coordinates and becomes a dead letter (loaders/dead_letters.py); the transform job
validates upstream, so this is a last guard, not a data path. A TRUNCATE record (op `t`) is kept
apart (`truncations`), and an update's `unchanged` columns are staged with the row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from etl.topics import TopicPartitionKey
from loaders.dead_letters import DeadLetter, describe
from loaders.entities import ENTITIES

log = logging.getLogger(__name__)


@dataclass
class OffsetRange:
    first: int  # first offset consumed in this batch
    next: int  # last offset + 1: what the warehouse stores as the partition's position


@dataclass(frozen=True)
class Truncation:
    """A TRUNCATE of `entity` at source LSN `version`: every older row of it is gone."""

    entity: str
    version: int
    source_ts_ms: int


@dataclass
class ChangeBatch:
    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in ENTITIES}
    )
    offsets: dict[TopicPartitionKey, OffsetRange] = field(default_factory=dict)
    rejected: int = 0  # malformed records (dead-lettered)
    refused: int = 0  # records the warehouse refused (dead-lettered, see `refuse`)
    truncations: list[Truncation] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    #: entities with an update whose `unchanged` columns must be filled in from earlier versions
    unchanged_entities: set[str] = field(default_factory=set)
    max_source_ts_ms: int | None = None

    @property
    def rows_in(self) -> int:
        rows = sum(len(r) for r in self.rows.values())
        return rows + len(self.truncations) + self.rejected + self.refused

    def __len__(self) -> int:
        return self.rows_in

    def move_offset(self, topic: str, partition: int, offset: int) -> None:
        rng = self.offsets.get((topic, partition))
        if rng is None:
            self.offsets[(topic, partition)] = OffsetRange(offset, offset + 1)
        else:
            rng.next = max(rng.next, offset + 1)

    def add(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: bytes | None,
        key: bytes | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Account for one consumed message (every message moves the offset, even a bad one)."""
        self.move_offset(topic, partition, offset)
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
            entity, version = describe(value)
            self.dead_letters.append(
                DeadLetter(
                    topic, partition, offset, key, value, timestamp_ms, "malformed",
                    f"not a curated change record: {exc!r}"[:500], entity, version,
                )
            )  # fmt: skip

    def refuse(self, letter: DeadLetter) -> None:
        """Account for a message the warehouse refused: its offset moves, it is dead-lettered."""
        self.move_offset(letter.topic, letter.partition, letter.offset)
        self.refused += 1
        self.dead_letters.append(letter)

    def add_record(self, record: dict[str, Any]) -> None:
        """Stage one curated change record (etl/records.py); KeyError/TypeError if malformed."""
        entity = ENTITIES[record["entity"]]
        version = int(record["version"])
        ts_ms = int(record["source_ts_ms"])
        op = record.get("op")
        if op == "t":
            self.truncations.append(Truncation(entity.name, version, ts_ms))
        else:
            data = record.get("data") or {}
            key = record["key"][entity.key]
            if key is None:
                raise ValueError(f"{entity.key} is null")
            deleted = bool(record["deleted"]) or op == "d"
            unchanged = record.get("unchanged") or None
            if unchanged:
                unknown = set(unchanged) - set(entity.column_names)
                if unknown:
                    raise ValueError(f"unchanged names unknown columns: {sorted(unknown)}")
                self.unchanged_entities.add(entity.name)
            row = (
                version, ts_ms, deleted, op == "c", unchanged, key,
                *map(data.get, entity.column_names),
            )  # fmt: skip
            self.rows[entity.name].append(row)
        if self.max_source_ts_ms is None or ts_ms > self.max_source_ts_ms:
            self.max_source_ts_ms = ts_ms
