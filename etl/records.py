"""The curated change record: the contract between the transform job and the warehouse loader.

One Kafka message per source row change on `curated.<table>` (see `Settings.curated_topic`):

- key: JSON object of the primary key, e.g. `{"order_id": 42}` (so a key always lands on the same
  partition and per-key order is kept);
- value: JSON object with the fields below. Decimals are strings (exact), timestamps ISO-8601
  strings in UTC, integers as JSON numbers.

`version` is the source LSN of the change (Debezium `source.lsn`). Row locks serialise writers of
one row, so per key a later commit always has a larger LSN: the loader applies a change only if
its version is greater than the stored one (newer-version-wins), which makes replays and
duplicates no-ops. Snapshot reads (op `r`) carry the snapshot's LSN.

Op `t` is a TRUNCATE of the whole table: key and data fields are all null, `version` is the LSN of
the truncate. Every row of the table older than it is gone (also a change older than it arriving
later). `unchanged` names the columns of an update whose value the source did not send (unchanged
TOASTed values): their `data` field is null and the warehouse keeps the value it holds.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from etl.tables import CAPTURED

Op = Literal["c", "u", "d", "r", "t"]

#: Primary key column(s) of each captured table: the curated record's `key` fields.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {t.name: t.key_columns for t in CAPTURED}


class CuratedRecord(TypedDict):
    entity: str  # source table name
    op: Op  # c=create, u=update, d=delete, r=snapshot read, t=truncate (the whole table)
    key: dict[str, Any]  # primary key columns -> values
    version: int  # source LSN; newer-version-wins per key
    tx_id: int | None  # source transaction id
    source_ts_ms: int  # source commit time (ms since epoch)
    event_ts_ms: int  # when Debezium produced the event
    deleted: bool  # op == "d"
    data: dict[str, Any]  # the row: new state, or for deletes the last state Debezium knows
    unchanged: list[str]  # columns not sent (unchanged TOASTed values): keep the stored value
