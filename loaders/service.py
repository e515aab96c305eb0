"""The warehouse loader: curated change records from Kafka into the `dw` star schema.

Assumes about its input (the curated topics, etl/records.py):
  - one message per source row change, keyed by the row's primary key, so all changes of a
    row are in one partition in commit order (a replay or duplicate may follow them);
  - `version` is the change's source LSN: per key, a later commit has a larger version;
  - values are already validated by the transform job (an unparseable record is counted as
    rejected in the audit and logged with its coordinates, not loaded).

Promises (exactly-once *effect* in the warehouse, not exactly-once delivery):
  - every batch is applied in ONE warehouse transaction together with the partitions' next
    offsets (`dw.etl_offsets`); Kafka-committed offsets are written too but never read;
  - on start and on every partition assignment (on_assign) the consumer seeks to the offsets
    the warehouse stores, so a crash at any point (kill -9 included) loses no record and
    applies none twice: the transaction either committed with its offsets or left nothing;
  - newer-version-wins per key: a change whose version is not above the stored one changes
    nothing, so replays, duplicates and late arrivals of older changes are harmless;
  - several loaders may share the partitions (same group): the offsets are advanced by a
    per-partition compare-and-set inside the transaction, so a batch of a loader that lost a
    partition in a rebalance (a zombie) rolls back instead of applying records again, and the
    loader rewinds to the stored offsets; batches are applied one at a time across loaders
    (a transaction-scoped advisory lock), which keeps the summary deltas exact;
  - a change the warehouse refuses (a value it cannot hold, a constraint it violates: SQLSTATE
    classes 22, 23, 54) never stops loading: the batch is split in halves until the refused
    record is alone, everything else is applied, and that record goes to the dead-letter topic
    with its reason, source position and key, recorded in `dw.etl_dead_letters` in the same
    transaction that moves the offset past it (loaders/dead_letters.py). No loss, no loop;
  - SIGTERM/SIGINT: stop collecting, apply the batch collected so far (or abandon it if the
    warehouse is unavailable: nothing is lost, it is re-read on the next start), leave the group.

Any other warehouse error ends the process with status 1 (crash-only: supervisord restarts it
and the stored offsets make the restart safe).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from datetime import UTC, datetime
from typing import Any

import psycopg
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from etl.progress import LoaderBatch, LoaderLag, LoaderProgress, LoaderTotals
from etl.settings import Settings
from etl.topics import TopicPartitionKey
from loaders.apply import BatchResult, apply_batch, connect_for_apply
from loaders.batch import ChangeBatch
from loaders.dead_letters import (
    DeadLetter,
    DeadLetterProducer,
    describe,
    refusal_reason,
    refused_by_warehouse,
)
from loaders.offsets import Fenced, stored_offsets
from loaders.quality_gate import QualityGate

log = logging.getLogger("loaders")
IDLE_PROGRESS_S = 5.0
#: While collecting a batch: how long to wait for more records before applying what is held.
GATHER_S = 0.02


def consumer_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """librdkafka settings: manual offsets only, fast failover of a dead group member.

    The fetch wait stays librdkafka's 500 ms (not `etl.topics.IDLE_FETCH_MAX_WAIT_MS`): a
    partition a group member gains while a long fetch is in flight is fetched only when that
    fetch returns (confluent-kafka-dotnet#1115), and the loader's partitions move on every
    rebalance. Its idle fetches cost the broker about 0.1% of a core.
    """
    return settings.kafka_client_config(
        **{
            "group.id": settings.loader_group_id,
            "client.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "session.timeout.ms": 10_000,  # a kill -9'd loader's partitions move on within ~10 s
            "heartbeat.interval.ms": 1_000,
        }
    )


def tp_name(tp: TopicPartitionKey) -> str:
    return f"{tp[0]}[{tp[1]}]"


def timestamp_ms(msg: Message) -> int | None:
    _kind, ts = msg.timestamp()
    return ts if ts and ts > 0 else None


def batch_of(messages: list[Message]) -> ChangeBatch:
    batch = ChangeBatch()
    for msg in messages:
        batch.add(
            msg.topic() or "",
            msg.partition() or 0,
            msg.offset() or 0,
            msg.value(),
            msg.key(),
            timestamp_ms(msg),
        )
    return batch


def refused_letter(msg: Message, exc: BaseException) -> DeadLetter:
    """The dead letter of a message the warehouse refused (`exc`: its error)."""
    entity, version = describe(msg.value())
    return DeadLetter(
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
        key=msg.key(),
        value=msg.value(),
        timestamp_ms=timestamp_ms(msg),
        rule="warehouse",
        reason=refusal_reason(exc),
        entity=entity,
        version=version,
    )


class LoaderService:
    def __init__(self, settings: Settings, loader_id: str | None = None) -> None:
        self.settings = settings
        self.loader_id = loader_id or f"{socket.gethostname()}-{os.getpid()}"
        self.topics = settings.curated_topics()
        self.stopping = False
        #: owned partition -> next offset the warehouse stores for it (None: nothing loaded)
        self.owned: dict[TopicPartitionKey, int | None] = {}
        self.pending: dict[TopicPartitionKey, list[Message]] = {}
        self.totals = LoaderTotals()
        self.last_batch: LoaderBatch | None = None
        self.last_progress = 0.0
        self.conn = connect_for_apply(
            settings.warehouse_dsn(role="loader"), f"loader {self.loader_id}"
        )
        self.consumer = Consumer(
            consumer_config(settings, self.loader_id), logger=logging.getLogger("rdkafka")
        )
        self.gate = QualityGate(settings)
        self.dead_letters = DeadLetterProducer(settings, self.loader_id)

    # ---- rebalance callbacks: run inside consume(), between batches ----
    def on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        stored = stored_offsets(self.conn, {p.topic for p in partitions})
        for p in partitions:
            tp = (p.topic, p.partition)
            self.owned[tp] = stored.get(tp)
            self.pending.pop(tp, None)
            p.offset = stored.get(tp, OFFSET_BEGINNING)
        consumer.assign(partitions)
        log.info(
            "partitions assigned",
            extra={"partitions": {tp_name((p.topic, p.partition)): p.offset for p in partitions}},
        )

    def on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for p in partitions:
            self.owned.pop((p.topic, p.partition), None)
            self.pending.pop((p.topic, p.partition), None)
        log.info(
            "partitions revoked",
            extra={"partitions": [tp_name((p.topic, p.partition)) for p in partitions]},
        )

    # ---- the loop ----
    def request_stop(self, signum: int, _frame: object) -> None:
        log.info("stop requested", extra={"signal": signal.Signals(signum).name})
        self.stopping = True

    def run(self) -> None:
        self.consumer.subscribe(
            self.topics, on_assign=self.on_assign, on_revoke=self.on_revoke, on_lost=self.on_revoke
        )
        log.info(
            "loader started",
            extra={
                "loader_id": self.loader_id,
                "topics": self.topics,
                "group": self.settings.loader_group_id,
            },
        )
        try:
            while not self.stopping:
                if self.gate.holds(self.consumer):
                    time.sleep(self.settings.loader_max_wait_ms / 1000)
                    self.write_progress()
                    continue
                messages = self.collect()
                if messages:
                    self.load(messages)
                elif time.monotonic() - self.last_progress > IDLE_PROGRESS_S:
                    self.write_progress()
        finally:
            self.gate.close()
            self.consumer.close()  # leaves the group: the partitions move on at once
            self.write_progress()
            self.conn.close()
            log.info("loader stopped", extra=self.totals.model_dump())

    def collect(self) -> list[Message]:
        """Consume until loader_batch_size records are held, the records stop coming, or
        loader_max_wait_ms passed, whichever first.

        Small batches when changes trickle in (a lone change is applied as soon as it
        arrives, not after the max wait), large ones under load (records keep coming
        within GATHER_S of each other until the batch is full).
        """
        size = self.settings.loader_batch_size
        deadline = time.monotonic() + self.settings.loader_max_wait_ms / 1000
        while not self.stopping:
            held = sum(len(m) for m in self.pending.values())
            remaining = deadline - time.monotonic()
            if held >= size or remaining <= 0:
                break
            if held == 0:  # wake on the first record
                messages = self.consumer.consume(num_messages=1, timeout=remaining)
            else:
                messages = self.consumer.consume(
                    num_messages=size - held, timeout=min(remaining, GATHER_S)
                )
                if not messages:
                    break  # nothing more right now: apply what is held
            for msg in messages:
                self.hold(msg)
        collected = [msg for messages in self.pending.values() for msg in messages]
        self.pending.clear()
        return collected

    def hold(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", extra={"error": str(error)})
            return
        tp = (msg.topic(), msg.partition())
        if tp not in self.owned:
            return  # fetched before a revoke: the new owner reads it from the stored offset
        stored, offset = self.owned[tp], msg.offset()
        if stored is not None and offset is not None and offset < stored:
            return  # already in the warehouse
        self.pending.setdefault(tp, []).append(msg)

    def load(self, messages: list[Message]) -> bool:
        """Apply `messages` (per partition in offset order) as one batch; False if fenced off.

        If the warehouse refuses the batch's data, apply each half on its own (recursively):
        per partition a half is still a contiguous run of offsets, so every half is a batch of
        its own, and a record refused alone is dead-lettered (see the module doc).
        """
        try:
            return self.apply(batch_of(messages))
        except psycopg.Error as exc:
            if not refused_by_warehouse(exc):
                raise
            if len(messages) > 1:
                log.warning(
                    "warehouse refused a batch, splitting it to find the record",
                    extra={"rows": len(messages), "error": refusal_reason(exc)},
                )
                half = len(messages) // 2
                return self.load(messages[:half]) and self.load(messages[half:])
            letter = refused_letter(messages[0], exc)
            log.error(
                "warehouse refused a change, dead-lettered",
                extra={
                    "topic": letter.topic,
                    "partition": letter.partition,
                    "offset": letter.offset,
                    "key": letter.key_text,
                    "reason": letter.reason,
                },
            )
            batch = ChangeBatch()
            batch.refuse(letter)
            return self.apply(batch)

    def apply(self, batch: ChangeBatch) -> bool:
        """Dead letters to Kafka first, then the batch with its offsets; False if fenced off."""
        if batch.dead_letters:
            self.dead_letters.send(batch.dead_letters)
        expected = {tp: self.owned.get(tp) for tp in batch.offsets}
        try:
            result = apply_batch(self.conn, batch, expected, self.loader_id)
        except Fenced as exc:
            log.warning(
                "batch fenced off, rewinding to the stored offsets",
                extra={"reason": str(exc), "rows": batch.rows_in},
            )
            self.rewind()
            return False
        for tp, offset in result.end_offsets.items():
            if tp in self.owned:
                self.owned[tp] = offset
        self.commit_to_kafka(result)
        self.record(result)
        return True

    def rewind(self) -> None:
        """Seek every owned partition back to the position the warehouse stores."""
        stored = stored_offsets(self.conn, self.topics)
        self.pending.clear()
        for tp in list(self.owned):
            self.owned[tp] = stored.get(tp)
            self.consumer.seek(TopicPartition(tp[0], tp[1], stored.get(tp, OFFSET_BEGINNING)))

    def commit_to_kafka(self, result: BatchResult) -> None:
        """For monitoring tools only (consumer-group lag); correctness never reads it back."""
        offsets = [
            TopicPartition(t, p, o)
            for (t, p), o in result.end_offsets.items()
            if (t, p) in self.owned
        ]
        if offsets:
            try:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            except Exception as exc:  # KafkaException: e.g. no coordinator right now
                log.debug("kafka offset commit skipped", extra={"error": str(exc)})

    # ---- reporting ----
    def record(self, result: BatchResult) -> None:
        totals = self.totals
        totals.batches += 1
        totals.rows_in += result.rows_in
        totals.applied += result.applied
        totals.stale += result.stale
        totals.rejected += result.rejected
        totals.dead_lettered += result.dead_lettered
        totals.truncations += result.truncations
        self.last_batch = result
        log.info("batch applied", extra=result.model_dump())
        self.write_progress()
        self.gate.batch_applied()

    def lag(self) -> LoaderLag:
        partitions: dict[str, int | None] = {}
        for tp, stored in self.owned.items():
            _low, high = self.consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
            partitions[tp_name(tp)] = None if high < 0 else max(0, high - (stored or 0))
        known = [v for v in partitions.values() if v is not None]
        return LoaderLag(total=sum(known) if known else None, partitions=partitions)

    def write_progress(self) -> None:
        self.last_progress = time.monotonic()
        try:
            lag = self.lag()
        except Exception:  # a closed consumer or no metadata yet: lag is optional
            lag = LoaderLag()
        LoaderProgress(
            ts=datetime.now(UTC).isoformat(timespec="milliseconds"),
            loader_id=self.loader_id,
            pid=os.getpid(),
            batch=self.last_batch,
            totals=self.totals,
            lag=lag,
            assigned=sorted(map(tp_name, self.owned)),
        ).write(self.settings)


def main() -> int:
    from etl.errors import EtlError
    from etl.logs import configure_logging
    from etl.settings import load_settings

    configure_logging("loader")
    try:
        settings = load_settings()
        service = LoaderService(settings)
    except (EtlError, psycopg.OperationalError) as exc:
        log.error(f"loader cannot start: {str(exc).strip().splitlines()[0]}")
        return 1
    signal.signal(signal.SIGTERM, service.request_stop)
    signal.signal(signal.SIGINT, service.request_stop)
    try:
        service.run()
    except psycopg.Error as exc:
        log.exception(
            "warehouse error, exiting (restart resumes from the stored offsets)",
            extra={"error": str(exc).strip().splitlines()[0] if str(exc) else ""},
        )
        return 1
    return 0
