"""Expectations derived from the project's declarations, so nothing is written twice:

- `etl.rules` (the transform's business rules) -> one expectation per rule and column;
- `etl.tables` (every captured column is NOT NULL in the source) -> not-null expectations, and
  the text columns that must never hold Debezium's placeholder for an unchanged TOASTed value.

Cross-table checks are `UnexpectedRowsExpectation`s: SQL that returns the offending rows.
"""

from __future__ import annotations

from great_expectations import expectations as gxe
from great_expectations.expectations.expectation import Expectation

from etl.rules import AtLeast, Check, Matches, OneOf, rules_for
from etl.settings import Settings
from etl.tables import UNAVAILABLE_VALUE_PLACEHOLDER, captured_table


def rule_expectation(check: Check, column: str, rule: str) -> Expectation:
    """One business rule of `etl.rules` as the GX expectation that checks it on a column."""
    notes = f"business rule `{rule}` (etl/rules.py), also enforced by the transform"
    match check:
        case AtLeast(minimum, strict):
            return gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=minimum, strict_min=strict, notes=notes
            )
        case OneOf(values):
            return gxe.ExpectColumnValuesToBeInSet(
                column=column, value_set=list(values), notes=notes
            )
        case Matches(pattern):
            return gxe.ExpectColumnValuesToMatchRegex(column=column, regex=pattern, notes=notes)
    raise TypeError(f"no expectation for check {check!r}")


def business_rules(source_table: str, settings: Settings) -> list[Expectation]:
    """Every rule `etl.rules` declares for a source table (its warehouse rows keep the names),
    with the order statuses this deployment allows (the transform's too)."""
    rules = rules_for(source_table, settings.order_statuses)
    return [rule_expectation(r.check, r.column, r.name) for r in rules]


def required_columns(source_table: str) -> list[Expectation]:
    """Every captured column is NOT NULL in the source, so in its warehouse rows too."""
    return [
        gxe.ExpectColumnValuesToNotBeNull(column=c.name)
        for c in captured_table(source_table).columns
    ]


def key_unique(source_table: str) -> list[Expectation]:
    """The source key is the fact's key: unique (not null is in `required_columns`)."""
    return [gxe.ExpectColumnValuesToBeUnique(column=captured_table(source_table).key)]


def no_placeholders(source_table: str) -> list[Expectation]:
    """No text column holds Debezium's placeholder (would mean a lost column value)."""
    return [
        gxe.ExpectColumnValuesToNotBeInSet(
            column=c.name,
            value_set=[UNAVAILABLE_VALUE_PLACEHOLDER],
            notes="Debezium sends this for an unchanged TOASTed column (REPLICA IDENTITY DEFAULT)",
        )
        for c in captured_table(source_table).business_columns
        if c.sql_type == "text" or c.sql_type.startswith("character")
    ]


def no_rows(description: str, query: str) -> Expectation:
    """A cross-table rule as SQL returning the rows that break it (`{batch}`: the suite's rows)."""
    return gxe.UnexpectedRowsExpectation(
        unexpected_rows_query=query.strip(), description=description
    )
