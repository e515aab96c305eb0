"""Rendering: the curated record contract, keys, and the dead-letter record format."""

from __future__ import annotations

import base64
import json
import typing

import pytest

from etl.records import PRIMARY_KEYS, CuratedRecord
from jobs.transform.route import TopicMap, route_tables
from tests.unit.jobs.conftest import kafka_rows, one, routed
from tests.unit.jobs.envelopes import KEY_ONLY_BEFORE, ROWS, envelope, row

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("table", sorted(ROWS))
def test_curated_record_has_exactly_the_contract_fields(spark, table):
    out = one(spark, table, envelope(table, "c", lsn=4242, tx_id=77), key=b"ignored")
    record = out["value"]
    assert out["topic"] == f"curated.{table}" and out["kind"] == "curated"
    assert set(record) == set(typing.get_type_hints(CuratedRecord))
    pk = {name: ROWS[table][name] for name in PRIMARY_KEYS[table]}
    assert json.loads(out["key"]) == pk == record["key"]
    assert record == {
        "entity": table,
        "op": "c",
        "key": pk,
        "version": 4242,
        "tx_id": 77,
        "source_ts_ms": 1795765402844,
        "event_ts_ms": 1795765403465,
        "deleted": False,
        "data": ROWS[table],
        "unchanged": [],
    }


def test_update_and_snapshot_read_carry_after(spark):
    values = [
        envelope("orders", "u", before=row("orders"), after=row("orders", status="paid")),
        envelope("orders", "r", after=row("orders", status="shipped")),
    ]
    out = [o["value"] for o in routed(spark, "orders", values)]
    assert [(o["op"], o["deleted"], o["data"]["status"]) for o in out] == [
        ("u", False, "paid"),
        ("r", False, "shipped"),
    ]


def test_full_row_delete_carries_the_last_state(spark):
    before = row("orders", status="cancelled")
    record = one(spark, "orders", envelope("orders", "d", before=before))["value"]
    assert (record["op"], record["deleted"], record["data"]) == ("d", True, before)


def test_key_only_delete_carries_the_key_and_nulls(spark):
    record = one(
        spark, "customers", envelope("customers", "d", before=KEY_ONLY_BEFORE["customers"])
    )["value"]
    assert record["deleted"] is True
    assert record["data"] == {name: None for name in ROWS["customers"]} | {"customer_id": 1}


def test_dead_letter_keeps_the_original_bytes_and_position(spark):
    key, value = b'{"order_id":9}', b'{"op": "c", "after": {"order_id": "\xff"}}'
    out = one(spark, "orders", value, key=key)
    letter = out["value"]
    assert out["topic"] == "dlq" and out["key"] == key
    assert letter["source"] == {
        "topic": "cdc.public.orders",
        "partition": 0,
        "offset": 0,
        "timestamp_ms": 1767323045000,
    }
    original = letter["original"]
    assert base64.b64decode(original["value_base64"]) == value
    assert base64.b64decode(original["key_base64"]) == key
    assert original["key_text"] == key.decode() and original["value_text"] is None
    assert letter["entity"] == "orders" and letter["rule"] == "malformed"
    assert letter["violations"] == [{"rule": "malformed", "reason": "value is not valid UTF-8"}]
    assert letter["failed_at"].endswith("Z")


def test_long_value_base64_is_one_line(spark):
    value = b"x" * 500  # Spark may wrap base64 at 76 characters
    letter = one(spark, "orders", value)["value"]
    assert base64.b64decode(letter["original"]["value_base64"], validate=True) == value


def test_dead_letter_without_key(spark):
    letter = one(spark, "orders", "garbage")["value"]
    assert (
        letter["original"]["key_base64"] is None and letter["original"]["value_text"] == "garbage"
    )


def test_bad_records_do_not_hold_back_good_ones(spark):
    values = [
        envelope("orders"),
        "garbage",
        None,
        envelope("orders", after=row("orders", order_id=2)),
    ]
    assert [o["kind"] for o in routed(spark, "orders", values)] == ["curated", "dlq", "curated"]


def test_route_tables_unions_every_table_to_its_own_topic(spark):
    topics = TopicMap(
        sources={f"cdc.public.{t}": t for t in ROWS},
        curated={t: f"curated.{t}" for t in ROWS},
        dlq="etl.dlq",
    )
    frames = {t: kafka_rows(spark, f"cdc.public.{t}", [envelope(t), "bad"]) for t in ROWS}
    out = route_tables(frames, topics).collect()
    assert sorted((r.topic, r.kind) for r in out) == sorted(
        [(f"curated.{t}", "curated") for t in ROWS] + [("etl.dlq", "dlq")] * len(ROWS)
    )


def test_topic_map_from_settings_and_patterns():
    from etl.settings import Settings

    topics = TopicMap.from_settings(Settings(topic_prefix="cdc", curated_topic_prefix="cur"))
    assert topics.sources["cdc.public.order_items"] == "order_items"
    assert topics.curated["orders"] == "cur.orders"
    assert topics.source_pattern("orders") == r"^cdc\.public\.orders$"
    assert topics.output_topics()[0] == topics.dlq
