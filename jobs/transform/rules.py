"""The business rules of `etl.rules` as Spark column expressions (the stream's enforcement).

The rules themselves are declared once in `etl/rules.py`; the warehouse quality suites derive
their expectations from the same declaration.
"""

from __future__ import annotations

from pyspark.sql import Column

from etl.rules import BUSINESS_RULES, AtLeast, BusinessRule, Check, Matches, OneOf, rules_for

__all__ = ["BUSINESS_RULES", "BusinessRule", "holds", "rules_for"]


def holds(check: Check, value: Column) -> Column:
    """True where `value` satisfies `check` (null where `value` is null)."""
    match check:
        case AtLeast(minimum, strict):
            return value > minimum if strict else value >= minimum
        case OneOf(values):
            return value.isin(*values)
        case Matches(pattern):
            return value.rlike(pattern)
    raise TypeError(f"no Spark expression for check {check!r}")
