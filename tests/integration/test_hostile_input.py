"""Hostile input on the CDC topics, against the real transform job and loader on real Kafka.

A derandomized Hypothesis corpus of records that must all be dead letters (tests/unit/jobs/
hostile.py: garbage bytes, broken envelopes, a valid change of another table), a near-1 MB
message (its dead letter is larger than Kafka's default 1 MB limit) and a 60 kB one of escaped
control characters go onto the CDC topics of all four tables, then one good change. The job and
a loader run as this test's own processes on their own topics (`hostile-<id>.public.<table>`,
curated, DLQ): the shared `cdc.public.*` topics stay clean for the tests that read them after.

Asserted: the transform process is the one started (alive throughout, never restarted); every
hostile record is on the DLQ (at least once) with a rule, a reason, its topic, partition and
offset, and its exact bytes; nothing but the good change reached the curated topics; the
warehouse is as before except for that one change.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from etl.settings import Settings
from etl.tables import CAPTURED_TABLES
from etl.topics import ensure_topics, message_counts
from etl.warehouse_db import DATA_TABLES, prepare_warehouse
from tests.fixtures.kafka import collect
from tests.fixtures.loader import LoaderProcess
from tests.fixtures.transform import TransformJob, running, transform_job
from tests.unit.jobs.envelopes import envelope, row
from tests.unit.jobs.hostile import Record, hostile_corpus

pytestmark = pytest.mark.integration

PER_TABLE = 25
#: Just under the broker's default limit (1 MiB per record batch, headers and key included).
NEAR_LIMIT_BYTES = 1_000_000
FLOW_TIMEOUT_S = 300.0
Position = tuple[str, int, int]


@pytest.fixture(scope="module")
def job(stack: Settings) -> Iterator[TransformJob]:
    hostile = transform_job(stack, f"hostile-{uuid.uuid4().hex[:6]}", own_cdc_topics=True)
    prepare_warehouse(stack)  # migrations and login roles (idempotent): the loader needs them
    ensure_topics(hostile.settings, hostile.settings.cdc_topics())
    with running(hostile):
        yield hostile


def huge_records() -> dict[str, list[Record]]:
    """A near-limit value (bad op) and 60 kB of escaped control characters with a U+0000."""
    filler = "x" * (NEAR_LIMIT_BYTES - 1_000)
    near_limit = json.dumps(envelope("customers", "?", after=row("customers", full_name=filler)))
    escaped = json.dumps(envelope("products", after=row("products", name="\x01\x00" * 5_000)))
    return {
        "customers": [(b'{"customer_id": 1}', near_limit.encode())],
        "products": [(None, escaped.encode())],
    }


def wrong_table_record() -> dict[str, list[Record]]:
    """A valid orders change on the customers topic."""
    return {"customers": [(b'{"order_id": 1}', json.dumps(envelope("orders")).encode())]}


def produce(settings: Settings, corpus: dict[str, list[Record]]) -> dict[Position, Record]:
    """Produce every record onto its table's CDC topic; where each landed."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "message.max.bytes": 1_048_576,
            "linger.ms": 20,
        }
    )
    landed: dict[Position, Record] = {}
    errors: list[str] = []

    def delivered(record: Record):
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            else:
                landed[(msg.topic(), msg.partition(), msg.offset())] = record

        return report

    for table, records in corpus.items():
        for record in records:
            key, value = record
            producer.produce(
                settings.cdc_topic(table), key=key, value=value, on_delivery=delivered(record)
            )
            producer.poll(0)
    assert producer.flush(60) == 0 and not errors, errors
    return landed


def warehouse_state(settings: Settings) -> dict[str, list[tuple]]:
    """Every row of every warehouse data table, as text, sorted."""
    with psycopg.connect(settings.warehouse_dsn()) as conn:
        return {
            table: sorted(conn.execute(f"SELECT t::text FROM dw.{table} t").fetchall())
            for table in DATA_TABLES
        }


def wait_for_customer(settings: Settings, customer_id: int, loader: LoaderProcess) -> None:
    deadline = time.monotonic() + FLOW_TIMEOUT_S
    with psycopg.connect(settings.warehouse_dsn(), autocommit=True) as conn:
        while not conn.execute(
            "SELECT 1 FROM dw.dim_customer WHERE customer_id = %s", (customer_id,)
        ).fetchone():
            loader.assert_running()
            assert time.monotonic() < deadline, f"customer {customer_id} not in the warehouse"
            time.sleep(0.5)


def test_hostile_records_are_dead_letters_and_the_job_keeps_running(job: TransformJob, stack):
    settings = job.settings
    corpus = hostile_corpus(per_table=PER_TABLE)
    for extra in (huge_records(), wrong_table_record()):
        for table, records in extra.items():
            corpus[table] = corpus[table] + records
    before = warehouse_state(stack)
    pid = job.proc.pid if job.proc else None
    started = time.monotonic()

    landed = produce(settings, corpus)
    hostile = set(landed)
    letters = collect(
        settings,
        settings.dlq_topic,
        None,
        lambda rs: job.assert_alive() or hostile <= {position(r.value) for r in rs if r.value},
        timeout_s=FLOW_TIMEOUT_S,
        json_keys=False,
    )
    dead_lettered = time.monotonic() - started
    for letter in letters:
        spot = position(letter.value)
        assert spot in landed, f"a dead letter of no hostile record: {letter.value}"
        assert letter.value["rule"] and letter.value["reason"].strip()
        key, value = landed[spot]
        assert letter.key == key
        original = letter.value["original"]
        assert base64.b64decode(original["value_base64"]) == value
        encoded_key = original["key_base64"]
        assert (None if encoded_key is None else base64.b64decode(encoded_key)) == key
        assert "stage" not in letter.value, "the loader dead-lettered something"
    rules = sorted({letter.value["rule"] for letter in letters})
    biggest = max(len(letter.raw_value or b"") for letter in letters)

    # One good change after all that: a new customer, through the same topics.
    customer_id = 9_000_000_000 + int(uuid.uuid4().int % 1_000_000)
    good = envelope("customers", after=row("customers", customer_id=customer_id))
    produce(settings, {"customers": [(None, json.dumps(good).encode())]})
    # the stack's loader code and home (warehouse secrets), on the job's curated topics and DLQ
    loader = LoaderProcess(
        f"loader-{settings.curated_topic_prefix}",
        None,
        settings.home / "loader.log",
        env={
            "ETL_CURATED_TOPIC_PREFIX": settings.curated_topic_prefix,
            "ETL_DLQ_TOPIC_NAME": settings.dlq_topic,
        },
    )
    try:
        wait_for_customer(stack, customer_id, loader)
        wait_for_audit(stack, loader)
    finally:
        loader.stop()
    after = warehouse_state(stack)

    job.assert_alive()
    assert job.proc and job.proc.pid == pid
    assert "transform query failed" not in job.log.read_text()
    curated = message_counts(settings, settings.curated_topics())
    assert curated == {settings.curated_topic(t): int(t == "customers") for t in CAPTURED_TABLES}
    assert_only_the_good_change(before, after, customer_id, settings.curated_topic_prefix)
    with psycopg.connect(stack.warehouse_dsn()) as conn:
        loaded = conn.execute(
            "SELECT count(*), sum(rows_in) FROM dw.etl_load_audit WHERE loader_id = %s",
            (f"{socket.gethostname()}-{loader.proc.pid}",),
        ).fetchone()
    assert loaded == (len(set(after["etl_load_audit"]) - set(before["etl_load_audit"])), 1)
    print(
        f"\nhostile input: {len(hostile)} records ({PER_TABLE}/table drawn + "
        f"{NEAR_LIMIT_BYTES:,} B + 60 kB + wrong table), {len(letters)} dead letters "
        f"(largest {biggest:,} B) in {dead_lettered:.0f} s; rules: {', '.join(rules)}"
    )


def position(letter: dict[str, Any]) -> Position:
    source = letter["source"]
    return (source["topic"], source["partition"], source["offset"])


def wait_for_audit(settings: Settings, loader: LoaderProcess) -> None:
    """Until the loader's batch with the good change is in the audit (it commits with it)."""
    deadline = time.monotonic() + 60
    with psycopg.connect(settings.warehouse_dsn(), autocommit=True) as conn:
        while not conn.execute(
            "SELECT 1 FROM dw.etl_offsets WHERE topic LIKE 'curated-hostile-%' AND next_offset > 0"
        ).fetchone():
            assert loader.proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)


def assert_only_the_good_change(
    before: dict[str, list[tuple]], after: dict[str, list[tuple]], customer_id: int, prefix: str
) -> None:
    """Every warehouse table as before, except the new customer, this loader's offsets and its
    audit rows."""
    for table in DATA_TABLES:
        added = sorted(set(after[table]) - set(before[table]))
        removed = sorted(set(before[table]) - set(after[table]))
        assert not removed, f"dw.{table} lost rows: {removed[:3]}"
        if table == "dim_customer":
            assert len(added) == 1 and f",{customer_id}," in added[0][0], added
        elif table == "etl_offsets":
            assert all(row[0].startswith(f"({prefix}.") for row in added), added
        elif table != "etl_load_audit":  # the loader's own batches: counted by the caller
            assert not added, f"dw.{table} has new rows: {added[:3]}"
