"""Hostile input, property-based: whatever bytes arrive on a CDC topic, `route_table` turns each
record into exactly one output row (a tombstone into none): a curated record the warehouse can
hold, or a dead letter with a rule, a reason, the source position and the exact original bytes.

Hypothesis draws lists of records per topic (tests/unit/jobs/hostile.py). A Spark job per example
would cost seconds each (building the plan is thousands of Py4J calls), so the property runs in
two passes over the same derandomized examples: the first only collects the records, which are
then routed in one Spark job per table (`BatchRouter`); the second checks every example against
those outputs. A record the second pass has not seen (only while Hypothesis shrinks a failure)
is routed on its own, so a failing example still shrinks to a minimal one.
"""

from __future__ import annotations

import base64
import json
import re
import time
import typing
from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etl.records import CuratedRecord
from etl.tables import CAPTURED_TABLES, captured_table
from etl.topics import DEAD_LETTER_TEXT_MAX_BYTES
from jobs.transform.parse import EPOCH_MS_RANGE
from jobs.transform.route import route_table
from jobs.transform.validate import OPS
from tests.unit.jobs.conftest import kafka_rows
from tests.unit.jobs.envelopes import envelope, row
from tests.unit.jobs.hostile import Record, free_text_columns, mixed_records

pytestmark = pytest.mark.unit

Output = tuple[bytes | None, dict[str, Any], int]  # (Kafka key, value, input offset)
_TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$")
_LONG = (-(2**63), 2**63 - 1)
_INT = (-(2**31), 2**31 - 1)


def topic(table: str) -> str:
    return f"cdc.public.{table}"


class BatchRouter:
    """`route_table`'s output per record, many records routed in one Spark job per table."""

    def __init__(self, spark) -> None:
        self.spark = spark
        self.collecting = False
        self.pending: dict[str, list[Record]] = {t: [] for t in CAPTURED_TABLES}
        self.outputs: dict[tuple[str, Record], Output | None] = {}
        self.spark_jobs = 0

    def want(self, table: str, records: list[Record]) -> None:
        self.pending[table] += [r for r in records if (table, r) not in self.outputs]

    def route_pending(self) -> None:
        for table, records in self.pending.items():
            if records:
                self._route(table, list(dict.fromkeys(records)))
            records.clear()

    def output(self, table: str, record: Record) -> Output | None:
        """The output row of one record (None for a tombstone)."""
        if (table, record) not in self.outputs:
            self._route(table, [record])
        return self.outputs[(table, record)]

    def _route(self, table: str, records: list[Record]) -> None:
        self.spark_jobs += 1
        frame = kafka_rows(self.spark, topic(table), [value for _key, value in records])
        keyed = frame.drop("key").join(
            self.spark.createDataFrame(
                [(offset, key) for offset, (key, _value) in enumerate(records)],
                "offset long, key binary",
            ),
            "offset",
        )
        rows = route_table(keyed.orderBy("offset"), table, f"curated.{table}", "dlq").collect()
        produced = iter(rows)
        for offset, record in enumerate(records):
            if record[1] is None:
                self.outputs[(table, record)] = None
                continue
            out = next(produced, None)
            assert out is not None, f"no output row for {record!r}"
            self.outputs[(table, record)] = (out.key, json.loads(out.value), offset)
        leftover = list(produced)
        assert not leftover, f"more output rows than records: {leftover[:3]}"


def assert_curated(table: str, key: bytes | None, record: dict[str, Any]) -> None:
    """`record` is a `CuratedRecord` of `table` whose every value the warehouse can hold."""
    assert set(record) == set(typing.get_type_hints(CuratedRecord)), record
    assert record["entity"] == table and record["op"] in OPS
    assert isinstance(record["version"], int) and 0 <= record["version"] <= _LONG[1]
    assert record["tx_id"] is None or 0 <= record["tx_id"] <= _LONG[1]
    for field in ("source_ts_ms", "event_ts_ms"):
        assert EPOCH_MS_RANGE[0] <= record[field] <= EPOCH_MS_RANGE[1], record
    assert record["deleted"] is (record["op"] == "d")
    spec = captured_table(table)
    assert list(record["data"]) == list(spec.column_names)
    assert record["key"] == {spec.key: record["data"][spec.key]}
    assert key is not None and json.loads(key) == record["key"]
    assert all(isinstance(c, str) for c in record["unchanged"])
    for column in spec.columns:
        value = record["data"][column.name]
        if value is None:
            assert column.name != spec.key and (
                record["op"] == "d" or column.name in record["unchanged"]
            ), (column.name, record)
        else:
            assert_holdable(column.sql_type, value)


def assert_holdable(sql_type: str, value: Any) -> None:
    """PostgreSQL's `sql_type` takes the curated JSON value `value` as the loader passes it."""
    if sql_type in ("bigint", "integer"):
        low, high = _LONG if sql_type == "bigint" else _INT
        assert isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif sql_type.startswith("numeric("):
        precision, scale = map(int, sql_type[8:-1].split(","))
        number = Decimal(value)
        assert number.is_finite() and -number.as_tuple().exponent <= scale, value
        assert abs(number) < Decimal(10) ** (precision - scale), value
    elif sql_type == "timestamp with time zone":
        assert _TIMESTAMP.match(value), value
        assert datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").year >= 1
    else:  # text, character(n): UTF-8 encodable (no lone surrogate) and without U+0000
        assert isinstance(value, str) and "\x00" not in value, repr(value)
        value.encode("utf-8")


def assert_dead_letter(table: str, record: Record, out: Output) -> None:
    """`out` is the dead letter of `record`: reasons, position, the exact original bytes."""
    key, value = record
    out_key, letter, offset = out
    assert out_key == key
    assert isinstance(letter["rule"], str) and letter["rule"], letter
    assert isinstance(letter["reason"], str) and letter["reason"].strip(), letter
    assert letter["violations"][0] == {"rule": letter["rule"], "reason": letter["reason"]}
    assert letter["entity"] == table
    assert {k: letter["source"][k] for k in ("topic", "partition", "offset")} == {
        "topic": topic(table),
        "partition": 0,
        "offset": offset,
    }
    original = letter["original"]
    for name, raw in (("key", key), ("value", value)):
        encoded = original[f"{name}_base64"]
        assert (None if encoded is None else decode_base64(encoded)) == raw
        assert original[f"{name}_text"] == shown_text(raw)


def decode_base64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def shown_text(raw: bytes | None) -> str | None:
    """The `*_text` a dead letter carries for `raw`."""
    if raw is None or len(raw) > DEAD_LETTER_TEXT_MAX_BYTES:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def examples() -> st.SearchStrategy[tuple[str, list]]:
    return st.sampled_from(CAPTURED_TABLES).flatmap(
        lambda t: st.tuples(st.just(t), mixed_records(t))
    )


@given(example=examples())
def check_example(router: BatchRouter, counts: Counter[str], example: tuple[str, list]) -> None:
    """The property, for one drawn list of records (collected only, while `router` collects)."""
    table, drawn = example
    records = [record for record, _row in drawn]
    if router.collecting:
        router.want(table, records)
        return
    counts["examples"] += 1
    for record, expected_row in drawn:
        out = router.output(table, record)
        if out is None:
            assert record[1] is None  # a tombstone, dropped
            counts["tombstones"] += 1
        elif out[1].keys() == typing.get_type_hints(CuratedRecord).keys():
            assert expected_row is not None, f"hostile record curated: {record!r} -> {out}"
            assert_curated(table, out[0], out[1])
            for column in free_text_columns(table) if out[1]["op"] != "d" else ():
                assert out[1]["data"][column] == expected_row[column]  # text kept exactly
            counts["curated"] += 1
        else:
            assert expected_row is None, f"valid record dead-lettered: {record!r} -> {out}"
            assert_dead_letter(table, record, out)
            counts[f"dlq {out[1]['rule']}"] += 1


@pytest.fixture(scope="module")
def router(spark) -> BatchRouter:
    """Every record of this module routed: the drawn examples, the regressions, a huge one."""
    started = time.perf_counter()
    batch = BatchRouter(spark)
    batch.collecting = True
    check_example(router=batch, counts=Counter())
    for table, _what, value, _rule in REGRESSIONS:
        batch.want(table, [(None, value)])
    batch.want("customers", HUGE)
    batch.route_pending()
    batch.collecting = False
    elapsed = time.perf_counter() - started
    print(f"\nhostile input: routed in {batch.spark_jobs} Spark jobs, {elapsed:.1f} s")
    return batch


def test_every_record_is_curated_or_a_dead_letter(router):
    counts: Counter[str] = Counter()
    started = time.perf_counter()
    check_example(router=router, counts=counts)
    records = sum(counts.values()) - counts["examples"]
    print(
        f"\nhostile properties: {counts['examples']} examples, {records} records, "
        f"checked in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()) if k != "examples")
    )
    assert counts["curated"] and counts["tombstones"] and counts["dlq malformed"]


#: One example of each hostile input that got past the transform before this test existed.
REGRESSIONS: list[tuple[str, str, bytes, str]] = [
    (
        "customers",
        "U+0000 in text (PostgreSQL refuses it: the loader dead-lettered it in the warehouse)",
        json.dumps(envelope("customers", after=row("customers", full_name="a\x00b"))).encode(),
        "type",
    ),
    (
        "customers",
        "an unpaired surrogate escape (stored as '?' before)",
        json.dumps(envelope("customers", after=row("customers", email="x")))
        .replace('"x"', r'"x\ud800"')
        .encode(),
        "malformed",
    ),
    (
        "orders",
        "year 0000 (Spark parses it, PostgreSQL has no year 0)",
        json.dumps(
            envelope("orders", after=row("orders", ordered_at="0000-06-01T00:00:00Z"))
        ).encode(),
        "type",
    ),
    (
        "orders",
        "9999-12-31 at -05:00, year 10000 in UTC",
        json.dumps(
            envelope("orders", after=row("orders", updated_at="9999-12-31T23:00:00-05:00"))
        ).encode(),
        "type",
    ),
    (
        "products",
        "ts_ms past year 9999 (the loader's to_timestamp() fails)",
        json.dumps(envelope("products", ts_ms=10**18)).encode(),
        "envelope.type",
    ),
    (
        "products",
        "negative source.ts_ms",
        json.dumps(envelope("products", source_ts_ms=-(10**15))).encode(),
        "envelope.type",
    ),
    (
        "order_items",
        "negative LSN",
        json.dumps(envelope("order_items", lsn=-1)).encode(),
        "envelope.type",
    ),
    (
        "customers",
        "a valid orders change on the customers topic",
        json.dumps(envelope("orders")).encode(),
        "envelope.table",
    ),
    (
        "customers",
        "single-quoted JSON (Spark's reader takes it by default)",
        json.dumps(envelope("customers")).replace('"', "'").encode(),
        "malformed",
    ),
]


def test_regressions_are_dead_letters(router):
    for table, what, value, rule in REGRESSIONS:
        out = router.output(table, (None, value))
        assert out is not None and out[1].get("rule") == rule, (what, out)
        assert_dead_letter(table, (None, value), out)


#: Above DEAD_LETTER_TEXT_MAX_BYTES (300 k two-byte characters; a 100 kB key), and a small one.
HUGE: list[Record] = [
    (b"k", json.dumps(envelope("customers", op="x")).encode()),
    (
        b"k" * 100_000,
        json.dumps(
            envelope("customers", op="x", after=row("customers", full_name="é" * 300_000))
        ).encode(),
    ),
]


def test_huge_dead_letter_keeps_the_bytes_but_no_text_copy(router):
    """Base64 only above DEAD_LETTER_TEXT_MAX_BYTES: the text copy would double the record."""
    for record in HUGE:
        out = router.output("customers", record)
        assert out is not None and out[1]["rule"] == "envelope.op"
        assert_dead_letter("customers", record, out)
    assert out[1]["original"]["value_text"] is None and out[1]["original"]["key_text"] is None
