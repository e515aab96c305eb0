"""Envelope parsing: typed columns, tombstones, malformed input, encodings of the connector."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from jobs.transform.parse import parse_envelope
from tests.unit.jobs.conftest import kafka_rows, one, routed
from tests.unit.jobs.envelopes import envelope, row

pytestmark = pytest.mark.unit


def parsed(spark, table, values):
    return parse_envelope(kafka_rows(spark, f"cdc.public.{table}", values), table).collect()


def test_envelope_fields_are_typed(spark):
    (r,) = parsed(spark, "orders", [envelope("orders", "u", before=row("orders"), lsn=99)])
    assert (r.op, r.version, r.tx_id) == ("u", 99, 832)
    assert (r.source_ts_ms, r.event_ts_ms) == (1795765402844, 1795765403465)
    assert r.state.total_amount == Decimal("25.00")
    assert r.state.ordered_at.replace(tzinfo=UTC) == datetime(
        2026, 11, 27, 7, 43, 22, 842316, tzinfo=UTC
    )
    assert r.parse_error is None and not r.tombstone and not r.key_only


def test_delete_state_is_before(spark):
    before = row("order_items", quantity=7)
    (r,) = parsed(spark, "order_items", [envelope("order_items", "d", before=before)])
    assert r.state.quantity == 7 and not r.key_only


def test_delete_of_default_identity_table_is_key_only(spark):
    (r,) = parsed(spark, "customers", [envelope("customers", "d", before=row("customers"))])
    assert r.key_only


def test_tombstone_is_recognised_and_dropped(spark):
    (r,) = parsed(spark, "orders", [None])
    assert r.tombstone and r.parse_error is None
    out = routed(spark, "orders", [envelope("orders", "d", before=row("orders")), None])
    assert [o["kind"] for o in out] == ["curated"]


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b"42",
        b'"a string"',
        b"null",
        b'{"op": "c", "after": 5}',
        b'{"op": "c", "after": ["a"]}',
        b'{"op": "c", "source": "x"}',
    ],
)
def test_values_that_are_not_envelopes_are_parse_errors(spark, value):
    (r,) = parsed(spark, "orders", [value])
    assert r.parse_error == "value is not a JSON object of the Debezium envelope shape"


def test_invalid_utf8_is_a_parse_error(spark):
    (r,) = parsed(spark, "orders", [b'{"op": "c", "x": "\xff\xfe"}'])
    assert r.parse_error == "value is not valid UTF-8"


def test_unknown_fields_are_ignored(spark):
    """A column added to the source table later, and envelope fields we do not use."""
    value = envelope("orders", after=row("orders", loyalty_points=12, note=None))
    value["transaction"] = {"id": "832:26877712", "total_order": 1}
    value["source"]["new_field"] = [1, 2]
    out = one(spark, "orders", value)
    assert out["kind"] == "curated"
    assert "loyalty_points" not in out["value"]["data"]


@pytest.mark.parametrize(
    ("ordered_at", "expected"),
    [
        ("2026-11-27T07:43:22.842316Z", "2026-11-27T07:43:22.842316Z"),
        ("2026-11-27T13:13:22.842316+05:30", "2026-11-27T07:43:22.842316Z"),
        ("2026-11-27T02:43:22-05:00", "2026-11-27T07:43:22.000000Z"),
        ("2026-01-01T00:30:00.5+01:00", "2025-12-31T23:30:00.500000Z"),
    ],
)
def test_timestamps_in_any_zone_are_rendered_in_utc(spark, ordered_at, expected):
    out = one(spark, "orders", envelope("orders", after=row("orders", ordered_at=ordered_at)))
    assert out["value"]["data"]["ordered_at"] == expected


@pytest.mark.parametrize(
    ("amount", "kind"),
    [
        ("999999999999.99", "curated"),  # the largest numeric(14,2)
        ("0", "curated"),
        ("0.5", "curated"),
        ("9999999999999.99", "dlq"),  # 13 integer digits do not fit numeric(14,2)
        ("1e3", "dlq"),  # Debezium never sends exponents
        ("12.345", "dlq"),  # would need rounding: refused, not rounded
        (12.5, "curated"),  # a JSON number's text is exact too: accepted
    ],
)
def test_decimal_strings_must_fit_the_column(spark, amount, kind):
    out = one(spark, "orders", envelope("orders", after=row("orders", total_amount=amount)))
    assert out["kind"] == kind
    if kind == "curated":
        assert Decimal(out["value"]["data"]["total_amount"]) == Decimal(amount)


def test_big_integers(spark):
    big = 2**63 - 1
    out = one(spark, "orders", envelope("orders", after=row("orders", order_id=big), lsn=big))
    assert out["value"]["key"] == {"order_id": big} and out["value"]["version"] == big
    too_big = one(spark, "orders", envelope("orders", after=row("orders", order_id=2**63)))
    assert too_big["kind"] == "dlq" and too_big["value"]["rule"] == "type"
