"""Business rules a single source row must satisfy, declared once, as data.

Two enforcers derive from this one declaration, so a rule added here is enforced in the stream
and checked in the warehouse:

- the transform (`jobs/transform/validate.py`) turns each rule into a Spark column expression
  and sends a change record that breaks it to the DLQ;
- the warehouse quality suites (`quality/expectations.py`) turn it into a Great Expectations
  expectation on the warehouse table that holds the source table's rows.

A check is a small value type (not a Spark or GX object) so the base layer imports neither.
Only rules that one row can decide belong here; rules spanning rows (an order's items against
its quantity, summaries against facts) are cross-table expectations of the quality suites.
"""

from __future__ import annotations

from dataclasses import dataclass

ORDER_STATUSES: tuple[str, ...] = ("pending", "paid", "shipped", "delivered", "cancelled")


@dataclass(frozen=True)
class AtLeast:
    """value >= minimum (value > minimum when strict)."""

    minimum: int
    strict: bool = False


@dataclass(frozen=True)
class OneOf:
    """value is one of `values`."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class Matches:
    """value matches the regular expression `pattern` (POSIX and Java agree on these)."""

    pattern: str


Check = AtLeast | OneOf | Matches


@dataclass(frozen=True)
class BusinessRule:
    """`check` must hold for `column` of every listed source table's row (non-null values)."""

    name: str
    column: str
    tables: tuple[str, ...]
    check: Check
    expectation: str  # how a violation's reason says it: "<column> must be > 0, got ..."


def business_rules(order_statuses: tuple[str, ...] = ORDER_STATUSES) -> tuple[BusinessRule, ...]:
    """Every rule; the statuses an order may have are configurable (`ETL_ORDER_STATUSES`)."""
    return (
        BusinessRule(
            "quantity_positive",
            "quantity",
            ("order_items",),
            AtLeast(0, strict=True),
            "must be > 0",
        ),
        BusinessRule(
            "unit_price_non_negative",
            "unit_price",
            ("products", "order_items"),
            AtLeast(0),
            "must be >= 0",
        ),
        BusinessRule(
            "amount_non_negative", "total_amount", ("orders",), AtLeast(0), "must be >= 0"
        ),
        BusinessRule(
            "status_allowed",
            "status",
            ("orders",),
            OneOf(order_statuses),
            "must be one of " + ", ".join(order_statuses),
        ),
        BusinessRule(
            "currency_code",
            "currency",
            ("products", "orders"),
            Matches("^[A-Z]{3}$"),
            "must be a 3-letter upper-case currency code",
        ),
        BusinessRule(
            "country_code",
            "country",
            ("customers",),
            Matches("^[A-Z]{2}$"),
            "must be a 2-letter upper-case country code",
        ),
    )


BUSINESS_RULES = business_rules()


def rules_for(
    table: str, order_statuses: tuple[str, ...] = ORDER_STATUSES
) -> tuple[BusinessRule, ...]:
    """The rules of one source table, in declaration order."""
    return tuple(rule for rule in business_rules(order_statuses) if table in rule.tables)
