"""Business rules a single change record must satisfy, as data (one place to read them all).

Only rules that one record can decide belong here. Rules spanning records (an order's total
against its items) need state across the stream and are checked downstream (warehouse quality
suites), never here: a stream stage that waited for related records would hold data back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import Column

ORDER_STATUSES: tuple[str, ...] = ("pending", "paid", "shipped", "delivered", "cancelled")


@dataclass(frozen=True)
class BusinessRule:
    """`holds(value)` must be true for `column` of every listed table's row (non-null values)."""

    name: str
    column: str
    tables: tuple[str, ...]
    holds: Callable[[Column], Column]
    expectation: str


BUSINESS_RULES: tuple[BusinessRule, ...] = (
    BusinessRule("quantity_positive", "quantity", ("order_items",), lambda v: v > 0, "must be > 0"),
    BusinessRule(
        "unit_price_non_negative",
        "unit_price",
        ("products", "order_items"),
        lambda v: v >= 0,
        "must be >= 0",
    ),
    BusinessRule(
        "amount_non_negative", "total_amount", ("orders",), lambda v: v >= 0, "must be >= 0"
    ),
    BusinessRule(
        "status_allowed",
        "status",
        ("orders",),
        lambda v: v.isin(*ORDER_STATUSES),
        "must be one of " + ", ".join(ORDER_STATUSES),
    ),
    BusinessRule(
        "currency_code",
        "currency",
        ("products", "orders"),
        lambda v: v.rlike("^[A-Z]{3}$"),
        "must be a 3-letter upper-case currency code",
    ),
    BusinessRule(
        "country_code",
        "country",
        ("customers",),
        lambda v: v.rlike("^[A-Z]{2}$"),
        "must be a 2-letter upper-case country code",
    ),
)


def rules_for(table: str) -> tuple[BusinessRule, ...]:
    return tuple(rule for rule in BUSINESS_RULES if table in rule.tables)
