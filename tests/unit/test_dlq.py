"""`etl dlq`'s own logic: reading a dead letter of either stage (or something that is none),
`--since`, and which dead letters a replay sends, in what order, and why not the others."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Message

from app.dlq import DeadLetterEntry, parse_dead_letter, parse_since, plan_replay
from etl.errors import EtlError
from etl.rules import ORDER_STATUSES, rules_for
from etl.settings import Settings, settings_environment

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def letter_message(
    offset: int,
    *,
    value: bytes | None = b"",
    key: bytes = b'{"order_id": 1}',
    source_offset: int = 7,
    partition: int = 2,
    stage: str | None = None,
) -> Message:
    if value == b"":  # each change's own bytes (a Debezium value carries its LSN)
        value = json.dumps({"op": "u", "source": {"lsn": source_offset}}).encode()
    letter = {
        "rule": "status_allowed",
        "reason": "after.status must be one of ..., got 'refunded'",
        "violations": [],
        "entity": "orders",
        "source": {
            "topic": "cdc.public.orders",
            "partition": partition,
            "offset": source_offset,
            "timestamp_ms": 1,
        },
        "original": {
            "key_base64": base64.b64encode(key).decode(),
            "key_text": key.decode(),
            "value_base64": None if value is None else base64.b64encode(value).decode(),
            "value_text": None,
        },
        "failed_at": "2026-11-29T08:00:00.000001Z",
    }
    if stage:
        letter["stage"] = stage
    return Message(
        topic="etl.dlq",
        partition=0,
        offset=offset,
        key=key,
        value=json.dumps(letter).encode(),
        timestamp=(1, 1_795_000_000_000),
    )


def test_a_transform_dead_letter_reads_with_its_original_bytes_and_position():
    entry = parse_dead_letter(letter_message(3, value=b"\xff\x00 raw"))
    assert (entry.dlq_partition, entry.dlq_offset, entry.stage) == (0, 3, "transform")
    assert entry.rule == "status_allowed" and "refunded" in entry.reason
    assert entry.source_position == "cdc.public.orders[2]@7"
    assert entry.original_value == b"\xff\x00 raw" and entry.original_key == b'{"order_id": 1}'
    assert entry.failed_at == datetime.fromtimestamp(1_795_000_000, UTC)  # reached the topic
    assert entry.replayable
    dumped = entry.model_dump(mode="json")
    assert "original_value" not in dumped and dumped["key"] == '{"order_id": 1}'


def test_without_a_kafka_timestamp_the_letters_own_time_counts():
    msg = letter_message(1)
    bare = Message(topic="etl.dlq", partition=0, offset=1, value=msg.value(), timestamp=(0, 0))
    assert parse_dead_letter(bare).failed_at == datetime(2026, 11, 29, 8, 0, 0, 1, tzinfo=UTC)


def test_a_loader_dead_letter_keeps_its_stage():
    assert parse_dead_letter(letter_message(1, stage="loader")).stage == "loader"


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"'])
def test_a_message_that_is_no_dead_letter_is_listed_as_unreadable_not_dropped(raw):
    msg = Message(topic="etl.dlq", partition=1, offset=9, value=raw, timestamp=(1, 1_000))
    entry = parse_dead_letter(msg)
    assert entry.rule == "unreadable" and not entry.replayable
    assert (entry.dlq_partition, entry.dlq_offset) == (1, 9)
    assert entry.failed_at == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_wrong_typed_fields_read_as_unknown_not_as_an_error():
    msg = Message(
        topic="etl.dlq",
        partition=0,
        offset=0,
        value=json.dumps({"rule": 5, "source": [], "original": {"value_base64": "%%%"}}).encode(),
        timestamp=(1, 1_000),
    )
    entry = parse_dead_letter(msg)
    assert entry.rule == "?" and entry.source_topic is None and not entry.replayable


def test_since_takes_an_age_or_an_iso_time():
    assert parse_since("30m", NOW) == NOW - timedelta(minutes=30)
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("1.5d", NOW) == NOW - timedelta(days=1.5)
    assert parse_since("2026-11-29T08:00:00", NOW) == datetime(2026, 11, 29, 8, tzinfo=UTC)
    assert parse_since("2026-11-29T08:00:00+01:00", NOW).utcoffset() == timedelta(hours=1)
    with pytest.raises(EtlError, match="--since 'yesterday'"):
        parse_since("yesterday", NOW)


def entry(offset: int, source_offset: int, **changes) -> DeadLetterEntry:
    base = parse_dead_letter(letter_message(offset, source_offset=source_offset))
    return base.model_copy(update=changes)


def test_replay_sends_each_change_once_in_source_order_and_says_why_not_the_others():
    entries = [
        entry(0, 12),
        entry(1, 5),
        entry(2, 12),  # the same change dead-lettered twice (at-least-once transform)
        entry(3, 8, replayed_at=NOW),
        entry(4, 9, original_value=None),
    ]
    plan = plan_replay(entries, again=False)
    todo, result = plan.todo, plan.result
    assert [e.source_offset for e in todo] == [5, 12]
    # the second letter of the sent change is recorded as replayed with it
    assert [e.dlq_offset for e in plan.duplicates[todo[1].digest()]] == [2]
    assert (result.matched, result.already_replayed, result.duplicates) == (5, 1, 1)
    assert [(s.dlq_offset, s.why.split(":")[0]) for s in result.not_replayable] == [
        (4, "status_allowed")
    ]
    assert result.by_topic == {"cdc.public.orders": 2}

    plan = plan_replay(entries, again=True)
    todo, result = plan.todo, plan.result
    assert [e.source_offset for e in todo] == [5, 8, 12] and result.already_replayed == 0


def test_the_digest_tells_changes_apart_by_topic_key_and_value():
    one = entry(0, 1)
    assert one.digest() == entry(5, 1).digest()
    assert one.digest() != one.model_copy(update={"original_value": b"other"}).digest()
    assert one.digest() != one.model_copy(update={"original_key": b"other"}).digest()
    assert one.digest() != one.model_copy(update={"source_topic": "cdc.public.x"}).digest()


def test_order_statuses_are_configurable_for_the_rule_and_reach_child_processes(monkeypatch):
    monkeypatch.setenv("ETL_ORDER_STATUSES", "pending, paid,refunded")
    settings = Settings()
    assert settings.order_statuses == ("pending", "paid", "refunded")
    assert settings_environment(settings)["ETL_ORDER_STATUSES"] == "pending,paid,refunded"
    (rule,) = (r for r in rules_for("orders", settings.order_statuses) if r.name.startswith("st"))
    assert "refunded" in rule.expectation
    assert Settings(order_statuses=ORDER_STATUSES).order_statuses == ORDER_STATUSES
    for bad in ("", "a,,b", " , "):
        monkeypatch.setenv("ETL_ORDER_STATUSES", bad)
        with pytest.raises(ValueError, match="order_statuses"):
            Settings()
