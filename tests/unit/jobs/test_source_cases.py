"""The transform on the source's corner cases: unchanged TOASTed values and TRUNCATE."""

from __future__ import annotations

import pytest

from etl.tables import UNAVAILABLE_VALUE_PLACEHOLDER
from tests.unit.jobs.conftest import one
from tests.unit.jobs.envelopes import ROWS, envelope, row

pytestmark = pytest.mark.unit
PLACEHOLDER = UNAVAILABLE_VALUE_PLACEHOLDER


def test_unchanged_toasted_columns_are_named_and_not_passed_on(spark):
    after = row("customers", full_name=PLACEHOLDER, email=PLACEHOLDER, country="FR")
    record = one(spark, "customers", envelope("customers", "u", after=after))["value"]
    assert record["unchanged"] == ["email", "full_name"]
    assert record["data"]["full_name"] is None and record["data"]["email"] is None
    assert record["data"]["country"] == "FR"


def test_an_unchanged_column_is_not_validated(spark):
    """The placeholder would fail a type or business rule; it is not a value, so it passes."""
    after = row("products", unit_price=PLACEHOLDER, currency=PLACEHOLDER, name="n")
    out = one(spark, "products", envelope("products", "u", after=after))
    assert out["kind"] == "curated", out["value"]
    assert out["value"]["unchanged"] == ["unit_price", "currency"]


@pytest.mark.parametrize("op", ["c", "r"])
def test_the_placeholder_text_in_an_insert_is_data(spark, op):
    """Only an update can leave a value unsent; an insert or snapshot row carries every value."""
    after = row("customers", full_name=PLACEHOLDER)
    record = one(spark, "customers", envelope("customers", op, after=after))["value"]
    assert record["unchanged"] == [] and record["data"]["full_name"] == PLACEHOLDER


@pytest.mark.parametrize("table", sorted(ROWS))
def test_truncate_becomes_a_curated_truncate_record(spark, table):
    out = one(spark, table, envelope(table, "t", lsn=99, tx_id=5))
    assert out["kind"] == "curated", out["value"]
    record = out["value"]
    assert (record["op"], record["version"], record["deleted"]) == ("t", 99, False)
    assert set(record["data"].values()) == {None} and set(record["key"].values()) == {None}
