"""Dead letters of the loader: curated records it does not load, on the transform's DLQ topic.

Two kinds, both sent to the same topic (`settings.dlq_topic`) in the transform's record shape
(docs/transform.md, "Dead-letter record"), with `"stage": "loader"` added:

- `malformed`: the value is not a curated change record (not JSON, unknown entity, a field
  missing). The transform validates upstream, so this is a last guard;
- `warehouse`: the warehouse refused the change (a value it cannot hold, a constraint it
  violates: SQLSTATE classes 22, 23 and 54). The loader finds the record by bisecting the batch
  (loaders/service.py) and loads everything else.

Each dead letter is produced (and flushed) before the warehouse transaction that moves the
offsets past it commits, and that transaction also writes its row in `dw.etl_dead_letters`:
a dead letter is never lost, its warehouse row exists exactly once (a crash in between sends
the Kafka message again on restart: the topic is at-least-once, like the transform's).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import Producer

from etl.errors import EtlError
from etl.settings import Settings
from etl.topics import DEAD_LETTER_TEXT_MAX_BYTES, DLQ_MAX_MESSAGE_BYTES

#: SQLSTATE classes that name the data, not the warehouse: 22 data exception (overflow, bad
#: value), 23 integrity constraint violation, 54 program limit exceeded (e.g. a value too big).
REFUSAL_CLASSES: tuple[str, ...] = ("22", "23", "54")


def refused_by_warehouse(exc: BaseException) -> bool:
    """True when `exc` is the warehouse refusing the data (not an outage, not our own bug)."""
    state = getattr(exc, "sqlstate", None)
    return (
        isinstance(exc, psycopg.Error) and isinstance(state, str) and state[:2] in REFUSAL_CLASSES
    )


def refusal_reason(exc: BaseException) -> str:
    """`<message> (SQLSTATE <code>)[: <detail>]`, one line."""
    diag = getattr(exc, "diag", None)
    primary = (getattr(diag, "message_primary", None) or str(exc)).strip().splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    reason = f"{primary} (SQLSTATE {getattr(exc, 'sqlstate', None)})"
    return f"{reason}: {detail}" if detail else reason


@dataclass
class DeadLetter:
    """One curated record the loader does not load, with where it came from and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None
    rule: str
    reason: str
    entity: str | None = None
    version: int | None = None

    @property
    def key_text(self) -> str | None:
        return _text(self.key)

    def value_json(self, failed_at: datetime) -> bytes:
        """The DLQ record, in the transform's shape (jobs/transform/normalize.py)."""
        letter: dict[str, Any] = {
            "rule": self.rule,
            "reason": self.reason,
            "violations": [{"rule": self.rule, "reason": self.reason}],
            "entity": self.entity,
            "stage": "loader",
            "source": {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "timestamp_ms": self.timestamp_ms,
            },
            "original": {
                "key_base64": _base64(self.key),
                "key_text": _shown_text(self.key),
                "value_base64": _base64(self.value),
                "value_text": _shown_text(self.value),
            },
            "failed_at": failed_at.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }
        return json.dumps(letter).encode()


def _base64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode()


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def describe(value: bytes | None) -> tuple[str | None, int | None]:
    """(entity, version) of a curated value, as far as it can be read (None where not)."""
    try:
        record = json.loads(value or b"")
        entity = record.get("entity")
        version = record.get("version")
        return (
            entity if isinstance(entity, str) else None,
            version if isinstance(version, int) else None,
        )
    except (ValueError, AttributeError):
        return None, None


def _shown_text(raw: bytes | None) -> str | None:
    """The text copy in a dead letter: none above DEAD_LETTER_TEXT_MAX_BYTES (base64 has it)."""
    return _text(raw) if raw is None or len(raw) <= DEAD_LETTER_TEXT_MAX_BYTES else None


class DeadLetterProducer:
    """Sends dead letters to the DLQ topic and waits until Kafka has them all."""

    def __init__(self, settings: Settings, client_id: str) -> None:
        self.topic = settings.dlq_topic
        self.producer = Producer(
            settings.kafka_client_config(
                **{
                    "client.id": f"{client_id}-dlq",
                    "acks": "all",
                    "enable.idempotence": True,
                    # a dead letter is larger than its original (base64 + text)
                    "message.max.bytes": DLQ_MAX_MESSAGE_BYTES,
                }
            )
        )

    def send(self, letters: list[DeadLetter], timeout_s: float = 30.0) -> None:
        """Produce and flush; raise EtlError if Kafka did not take every one (nothing is lost:
        the offsets do not move past them, so they are dead-lettered again after a restart)."""
        failed: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failed.append(str(err))

        now = datetime.now(UTC)
        for letter in letters:
            self.producer.produce(
                self.topic, key=letter.key, value=letter.value_json(now), on_delivery=delivered
            )
        if self.producer.flush(timeout_s) > 0 or failed:
            raise EtlError(
                f"dead letters not accepted by Kafka topic {self.topic}: "
                f"{failed[0] if failed else 'flush timed out'}"
            )


_INSERT = (
    'INSERT INTO dw.etl_dead_letters (topic, partition, "offset", entity, record_key, version,'
    " rule, reason, batch_id, loader_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    ' ON CONFLICT (topic, partition, "offset") DO NOTHING'
)


def record_dead_letters(
    conn: psycopg.Connection, letters: list[DeadLetter], batch_id: int, loader_id: str
) -> None:
    """Their rows in `dw.etl_dead_letters`, inside the batch's transaction."""
    if not letters:
        return
    with conn.cursor() as cur:
        cur.executemany(
            _INSERT,
            [
                (
                    d.topic,
                    d.partition,
                    d.offset,
                    d.entity,
                    d.key_text,
                    d.version,
                    d.rule,
                    d.reason,
                    batch_id,
                    loader_id,
                )
                for d in letters
            ],
        )
