"""`etl dlq`: what the dead-letter topic holds, and sending it back through the pipeline.

Both stages write dead letters to one topic (`settings.dlq_topic`) in one shape
(docs/transform.md, "Dead-letter record"): the transform the Debezium change it could not curate,
the loader (`"stage": "loader"`) the curated record the warehouse refused. Each carries its
original key and value bytes and where they were read (topic, partition, offset).

Replay sends those original bytes back to where they were read, same partition (the loader's
per-key order and the transform's per-partition order hold): a transform dead letter goes
through the transform again, a loader one to the loader again. Nothing in the warehouse can be
applied twice: the loader applies a change only when its version (the source LSN) is newer than
the stored one, so a change replayed twice, or one that a newer change already overtook, changes
nothing. What was replayed is recorded in `dw.etl_dlq_replays` by the dead letter's own DLQ
position; the next replay skips it (`--again` does not). A replayed change that still fails is
dead-lettered again, at a new DLQ position, so it can be replayed after the next fix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message, Producer
from pydantic import BaseModel, Field

from etl.errors import EtlError
from etl.settings import Settings
from etl.topics import KAFKA_MAX_MESSAGE_BYTES, read_topic

#: Header on every replayed message: the DLQ position it came from (for tracing, not logic).
REPLAY_HEADER = "etl-replay-of"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class DeadLetterEntry(BaseModel):
    """One message of the DLQ topic, as `etl dlq list` shows it."""

    dlq_partition: int
    dlq_offset: int
    stage: str  # "transform" or "loader"
    entity: str | None
    rule: str
    reason: str
    source_topic: str | None
    source_partition: int | None
    source_offset: int | None
    key: str | None
    failed_at: datetime | None
    replayed_at: datetime | None = None
    original_key: bytes | None = Field(default=None, exclude=True)
    original_value: bytes | None = Field(default=None, exclude=True)

    @property
    def replayable(self) -> bool:
        """Where to send it and what: a tombstone is never dead-lettered, so a letter without
        value bytes is not replayable."""
        return (
            self.source_topic is not None
            and self.source_partition is not None
            and self.original_value is not None
        )

    @property
    def source_position(self) -> str:
        if self.source_topic is None:
            return "-"
        return f"{self.source_topic}[{self.source_partition}]@{self.source_offset}"

    def digest(self) -> str:
        """Same change, same digest: the topic, key and value bytes it would be sent as."""
        h = hashlib.sha256()
        for part in (self.source_topic or "", self.original_key, self.original_value):
            raw = part.encode() if isinstance(part, str) else (part or b"")
            h.update(len(raw).to_bytes(8, "big") + raw)
        return h.hexdigest()


class ReplaySkip(BaseModel):
    dlq_partition: int
    dlq_offset: int
    why: str


class ReplayResult(BaseModel):
    """What `etl dlq replay` did (or would do, with --dry-run: `sent` 0, `by_topic` what would
    be sent)."""

    dry_run: bool = False
    matched: int = 0  # dead letters the filters selected
    sent: int = 0
    already_replayed: int = 0
    duplicates: int = 0  # the same change dead-lettered more than once (at-least-once topics)
    not_replayable: list[ReplaySkip] = Field(default_factory=list)
    by_topic: dict[str, int] = Field(default_factory=dict)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: an ISO-8601 time (UTC when it has no zone) or an age like 30m, 2h, 7d."""
    now = now or datetime.now(UTC)
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise EtlError(
            f"--since {text!r}: give an ISO time (2026-11-29T08:00:00Z) or an age (90s, 30m, "
            "2h, 7d)"
        ) from None
    return _utc(when)


def _utc(when: datetime) -> datetime:
    """A time without a zone is UTC."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _decode(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _failed_at(msg: Message, letter_value: Any) -> datetime | None:
    """When the dead letter reached the DLQ topic: the message's Kafka timestamp, else the
    letter's own `failed_at`. Not the letter's first: the transform stamps a whole real-time
    batch with the batch's start (Spark's current_timestamp), up to a checkpoint interval
    before the record was read."""
    kind, ts_ms = msg.timestamp()
    if kind != TIMESTAMP_NOT_AVAILABLE and ts_ms and ts_ms > 0:
        return datetime.fromtimestamp(ts_ms / 1000, UTC)
    if isinstance(letter_value, str):
        try:
            return _utc(datetime.fromisoformat(letter_value))
        except ValueError:
            pass
    return None


def parse_dead_letter(msg: Message) -> DeadLetterEntry:
    """One DLQ message -> entry; a message that is not a dead letter is listed as `unreadable`
    (never dropped: the list shows all the topic holds)."""
    dlq_partition, dlq_offset = msg.partition() or 0, msg.offset() or 0
    try:
        letter = json.loads(msg.value() or b"")
        if not isinstance(letter, dict):
            raise ValueError("not an object")
    except ValueError:
        return DeadLetterEntry(
            dlq_partition=dlq_partition,
            dlq_offset=dlq_offset,
            stage="?",
            entity=None,
            rule="unreadable",
            reason="the DLQ message is not a dead-letter record (not a JSON object)",
            source_topic=None,
            source_partition=None,
            source_offset=None,
            key=None,
            failed_at=_failed_at(msg, None),
        )
    source = _object(letter.get("source"))
    original = _object(letter.get("original"))
    return DeadLetterEntry(
        dlq_partition=dlq_partition,
        dlq_offset=dlq_offset,
        stage=_text(letter.get("stage")) or "transform",
        entity=_text(letter.get("entity")),
        rule=_text(letter.get("rule")) or "?",
        reason=_text(letter.get("reason")) or "?",
        source_topic=_text(source.get("topic")),
        source_partition=_int(source.get("partition")),
        source_offset=_int(source.get("offset")),
        key=_text(original.get("key_text")),
        failed_at=_failed_at(msg, letter.get("failed_at")),
        original_key=_decode(original.get("key_base64")),
        original_value=_decode(original.get("value_base64")),
    )


def _replayed(settings: Settings) -> dict[tuple[int, int], datetime]:
    with psycopg.connect(settings.warehouse_dsn(), connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT dlq_partition, dlq_offset, replayed_at FROM dw.etl_dlq_replays"
            " WHERE dlq_topic = %s",
            (settings.dlq_topic,),
        ).fetchall()
    return {(p, o): at for p, o, at in rows}


def dead_letters(
    settings: Settings,
    *,
    table: str | None = None,
    stage: str | None = None,
    since: datetime | None = None,
) -> list[DeadLetterEntry]:
    """Every dead letter the DLQ topic holds now that the filters select, oldest first, each
    with when it was replayed (if it was)."""
    replayed = _replayed(settings)
    entries = []
    for msg in read_topic(settings, settings.dlq_topic):
        entry = parse_dead_letter(msg)
        if table is not None and entry.entity != table:
            continue
        if stage is not None and entry.stage != stage:
            continue
        if since is not None and (entry.failed_at is None or entry.failed_at < since):
            continue
        entry.replayed_at = replayed.get((entry.dlq_partition, entry.dlq_offset))
        entries.append(entry)
    epoch = datetime.min.replace(tzinfo=UTC)
    entries.sort(key=lambda e: (e.failed_at or epoch, e.dlq_partition, e.dlq_offset))
    return entries


@dataclass
class ReplayPlan:
    """What a replay sends (one entry per change, in source order per partition) and the other
    dead letters of the same changes, recorded as replayed with it."""

    todo: list[DeadLetterEntry]
    duplicates: dict[str, list[DeadLetterEntry]]  # digest -> the other letters of that change
    result: ReplayResult


def plan_replay(entries: Iterable[DeadLetterEntry], *, again: bool) -> ReplayPlan:
    """Which entries to send, in source order per partition, and why the others are not."""
    result = ReplayResult()
    chosen: dict[str, DeadLetterEntry] = {}
    duplicates: dict[str, list[DeadLetterEntry]] = {}
    for entry in entries:
        result.matched += 1
        if not entry.replayable:
            why = f"{entry.rule}: no original value or source position in the dead letter"
            result.not_replayable.append(
                ReplaySkip(dlq_partition=entry.dlq_partition, dlq_offset=entry.dlq_offset, why=why)
            )
        elif entry.replayed_at is not None and not again:
            result.already_replayed += 1
        elif entry.digest() in chosen:
            result.duplicates += 1
            duplicates.setdefault(entry.digest(), []).append(entry)
        else:
            chosen[entry.digest()] = entry
    todo = sorted(
        chosen.values(),
        key=lambda e: (e.source_topic or "", e.source_partition or 0, e.source_offset or 0),
    )
    for entry in todo:
        assert entry.source_topic is not None
        result.by_topic[entry.source_topic] = result.by_topic.get(entry.source_topic, 0) + 1
    return ReplayPlan(todo, duplicates, result)


def _send(settings: Settings, todo: list[DeadLetterEntry]) -> list[tuple[str, int, int]]:
    """Produce each original to its topic and partition, in order; (topic, partition, offset)
    of each, or EtlError if Kafka did not take them all."""
    producer = Producer(
        settings.kafka_client_config(
            **{
                "client.id": "etl-dlq-replay",
                "acks": "all",
                "enable.idempotence": True,  # in order, once per partition, despite retries
                # an original is at most what its topic takes (the DLQ's letters are larger)
                "message.max.bytes": KAFKA_MAX_MESSAGE_BYTES,
            }
        )
    )
    positions: list[tuple[str, int, int] | None] = [None] * len(todo)
    errors: list[str] = []

    def delivered(index: int) -> Callable[[Any, Message], None]:
        def report(err: Any, msg: Message) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                positions[index] = (msg.topic() or "", msg.partition() or 0, msg.offset() or 0)

        return report

    for index, entry in enumerate(todo):
        producer.produce(
            entry.source_topic or "",
            key=entry.original_key,
            value=entry.original_value,
            partition=entry.source_partition or 0,
            headers=[(REPLAY_HEADER, f"{entry.dlq_partition}@{entry.dlq_offset}")],
            on_delivery=delivered(index),
        )
        producer.poll(0)
    if producer.flush(60) > 0 or errors or None in positions:
        raise EtlError(
            "replay: Kafka did not take every message "
            f"({errors[0] if errors else 'flush timed out'}); nothing was recorded as replayed,"
            " run it again (the warehouse applies each change once)"
        )
    return [p for p in positions if p is not None]


_RECORD = (
    "INSERT INTO dw.etl_dlq_replays (dlq_topic, dlq_partition, dlq_offset, digest, target_topic,"
    " target_partition, target_offset) VALUES (%s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (dlq_topic, dlq_partition, dlq_offset) DO UPDATE SET"
    " digest = excluded.digest, target_topic = excluded.target_topic,"
    " target_partition = excluded.target_partition, target_offset = excluded.target_offset,"
    " replayed_at = excluded.replayed_at"
)


def replay(
    settings: Settings,
    *,
    table: str | None = None,
    stage: str | None = None,
    since: datetime | None = None,
    again: bool = False,
    dry_run: bool = False,
) -> ReplayResult:
    """Send the selected dead letters' originals back where they were read; record them."""
    entries = dead_letters(settings, table=table, stage=stage, since=since)
    plan = plan_replay(entries, again=again)
    result = plan.result
    result.dry_run = dry_run
    if dry_run or not plan.todo:
        return result
    sent = _send(settings, plan.todo)
    rows = []
    for entry, position in zip(plan.todo, sent, strict=True):
        digest = entry.digest()
        for letter in (entry, *plan.duplicates.get(digest, ())):
            rows.append(
                (settings.dlq_topic, letter.dlq_partition, letter.dlq_offset, digest, *position)
            )
    with (
        psycopg.connect(settings.warehouse_dsn(), connect_timeout=10) as conn,
        conn.cursor() as cur,
    ):
        cur.executemany(_RECORD, rows)
    result.sent = len(sent)
    return result
