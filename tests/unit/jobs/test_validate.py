"""Every validation rule, one record at a time: what fails, with which rule and reason."""

from __future__ import annotations

import pytest

from tests.unit.jobs.conftest import one, routed
from tests.unit.jobs.envelopes import KEY_ONLY_BEFORE, envelope, row

pytestmark = pytest.mark.unit


def rejected(spark, table, value) -> dict:
    out = one(spark, table, value)
    assert out["kind"] == "dlq", out
    return out["value"]


@pytest.mark.parametrize(
    ("table", "changes", "rule", "reason"),
    [
        (
            "order_items",
            {"quantity": 0},
            "quantity_positive",
            "after.quantity must be > 0, got '0'",
        ),
        (
            "order_items",
            {"quantity": -3},
            "quantity_positive",
            "after.quantity must be > 0, got '-3'",
        ),
        (
            "order_items",
            {"unit_price": "-0.01"},
            "unit_price_non_negative",
            "after.unit_price must be >= 0, got '-0.01'",
        ),
        (
            "products",
            {"unit_price": "-1.00"},
            "unit_price_non_negative",
            "after.unit_price must be >= 0, got '-1.00'",
        ),
        (
            "orders",
            {"total_amount": "-5.00"},
            "amount_non_negative",
            "after.total_amount must be >= 0, got '-5.00'",
        ),
        (
            "orders",
            {"status": "lost"},
            "status_allowed",
            "after.status must be one of pending, paid, shipped, delivered, cancelled, got 'lost'",
        ),
        (
            "orders",
            {"status": "PAID"},
            "status_allowed",
            "after.status must be one of pending, paid, shipped, delivered, cancelled, got 'PAID'",
        ),
        (
            "orders",
            {"currency": "eur"},
            "currency_code",
            "after.currency must be a 3-letter upper-case currency code, got 'eur'",
        ),
        (
            "products",
            {"currency": "EU"},
            "currency_code",
            "after.currency must be a 3-letter upper-case currency code, got 'EU'",
        ),
        (
            "customers",
            {"country": "DEU"},
            "country_code",
            "after.country must be a 2-letter upper-case country code, got 'DEU'",
        ),
        (
            "customers",
            {"country": "d1"},
            "country_code",
            "after.country must be a 2-letter upper-case country code, got 'd1'",
        ),
    ],
)
def test_business_rules(spark, table, changes, rule, reason):
    letter = rejected(spark, table, envelope(table, after=row(table, **changes)))
    assert (letter["rule"], letter["reason"]) == (rule, reason)


@pytest.mark.parametrize(
    ("table", "changes"),
    [
        ("order_items", {"quantity": 1, "unit_price": "0.00"}),
        ("orders", {"status": "cancelled", "total_amount": "0.00", "currency": "USD"}),
        ("customers", {"country": "JP", "full_name": "山田 太郎 😀", "email": "ü@例え.jp"}),
    ],
)
def test_boundary_values_pass(spark, table, changes):
    out = one(spark, table, envelope(table, after=row(table, **changes)))
    assert out["kind"] == "curated"
    assert {k: out["value"]["data"][k] for k in changes} == changes


def test_every_status_is_allowed(spark):
    statuses = ("pending", "paid", "shipped", "delivered", "cancelled")
    values = [envelope("orders", after=row("orders", status=s)) for s in statuses]
    assert [o["kind"] for o in routed(spark, "orders", values)] == ["curated"] * 5


@pytest.mark.parametrize(
    ("table", "changes", "reason"),
    [
        ("order_items", {"quantity": "two"}, "after.quantity: expected an integer, got 'two'"),
        ("order_items", {"quantity": 2**31}, f"after.quantity: expected an integer, got '{2**31}'"),
        ("order_items", {"quantity": 2.5}, "after.quantity: expected an integer, got '2.5'"),
        ("customers", {"customer_id": "abc"}, "after.customer_id: expected an integer, got 'abc'"),
        (
            "customers",
            {"created_at": "2026-11-27 07:43:22"},
            "after.created_at: expected an ISO-8601 timestamp with zone, years 0001-9999 in UTC,"
            " got '2026-11-27 07:43:22'",
        ),
        (
            "customers",
            {"created_at": "yesterday"},
            "after.created_at: expected an ISO-8601 timestamp with zone, years 0001-9999 in UTC,"
            " got 'yesterday'",
        ),
        (
            "products",
            {"unit_price": "cheap"},
            "after.unit_price: expected a decimal string fitting numeric(12,2), got 'cheap'",
        ),
    ],
)
def test_wrong_types(spark, table, changes, reason):
    letter = rejected(spark, table, envelope(table, after=row(table, **changes)))
    assert (letter["rule"], letter["reason"]) == ("type", reason)


def test_missing_and_null_columns_are_required(spark):
    after = row("customers", email=None)
    del after["country"]
    letter = rejected(spark, "customers", envelope("customers", after=after))
    assert letter["violations"] == [
        {"rule": "required", "reason": "after.email is required"},
        {"rule": "required", "reason": "after.country is required"},
    ]


def test_all_violations_are_listed_first_one_is_the_rule(spark):
    after = row("order_items", quantity=0, unit_price="-1.00", order_id=None)
    letter = rejected(spark, "order_items", envelope("order_items", after=after))
    assert [v["rule"] for v in letter["violations"]] == [
        "required",
        "quantity_positive",
        "unit_price_non_negative",
    ]
    assert letter["rule"] == "required"


@pytest.mark.parametrize(
    ("value", "rule", "reason"),
    [
        (
            envelope("orders", "c", after=None) | {"after": None},
            "envelope.row",
            "op 'c' carries no `after` row",
        ),
        (
            envelope("orders", "u") | {"after": None},
            "envelope.row",
            "op 'u' carries no `after` row",
        ),
        (envelope("orders", "d", before=None), "envelope.row", "op 'd' carries no `before` row"),
        (
            envelope("orders", "x", after=row("orders")),
            "envelope.op",
            "op must be one of c, u, d, r, t, got 'x'",
        ),
        (
            {k: v for k, v in envelope("orders").items() if k != "op"},
            "envelope.op",
            "op must be one of c, u, d, r, t, got null",
        ),
        (envelope("orders") | {"ts_ms": None}, "envelope.required", "ts_ms is required"),
        (
            envelope("orders") | {"ts_ms": "soon"},
            "envelope.type",
            "ts_ms: expected epoch milliseconds from 0 to 253402300799999, got 'soon'",
        ),
    ],
)
def test_envelope_rules(spark, value, rule, reason):
    letter = rejected(spark, "orders", value)
    assert (letter["rule"], letter["reason"]) == (rule, reason)


def test_source_fields_are_required(spark):
    value = envelope("orders")
    value["source"]["lsn"] = None
    value["source"]["ts_ms"] = "x"
    letter = rejected(spark, "orders", value)
    assert letter["violations"] == [
        {"rule": "envelope.required", "reason": "source.lsn is required"},
        {
            "rule": "envelope.type",
            "reason": "source.ts_ms: expected epoch milliseconds from 0 to 253402300799999,"
            " got 'x'",
        },
    ]


def test_missing_tx_id_is_allowed(spark):
    out = one(spark, "orders", envelope("orders", tx_id=None))
    assert out["kind"] == "curated" and out["value"]["tx_id"] is None


def test_key_only_delete_ignores_placeholders(spark):
    """DEFAULT replica identity: Debezium's placeholders ("" country) are not validated."""
    for table in ("customers", "products"):
        out = one(spark, table, envelope(table, "d", before=KEY_ONLY_BEFORE[table]))
        assert out["kind"] == "curated", out


def test_key_only_delete_still_needs_its_key(spark):
    before = KEY_ONLY_BEFORE["customers"] | {"customer_id": None}
    letter = rejected(spark, "customers", envelope("customers", "d", before=before))
    assert letter["reason"] == "before.customer_id is required"


def test_full_row_delete_is_validated(spark):
    before = row("orders", status="lost")
    letter = rejected(spark, "orders", envelope("orders", "d", before=before))
    assert letter["reason"].startswith("before.status must be one of")
