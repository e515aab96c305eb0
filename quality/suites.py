"""The suites, in code: one per warehouse table family, plus freshness and the DLQ.

A warehouse suite validates the rows of one SQL query against the warehouse; a frame suite
validates a small table the runner computes first (`quality/measures.py`), because what it
checks (the source's newest write, the DLQ on Kafka) is not in the warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from great_expectations import expectations as gxe
from great_expectations.expectations.expectation import Expectation

from etl.settings import Settings
from quality.expectations import (
    business_rules,
    key_unique,
    no_placeholders,
    no_rows,
    required_columns,
)
from quality.measures import dlq_frame, freshness_frame

#: Oldest plausible business date: the first day `dw.dim_date` holds.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Suite:
    name: str
    expectations: Callable[[Settings], list[Expectation]]
    #: warehouse suites: the rows validated, `{batch}` in cross-table SQL (GX substitutes it as
    #: `(query)` in a query with a JOIN, which then names it, else as `(query) AS subselect`)
    query: str | None = None
    #: frame suites: the table validated, computed at run time
    frame: Callable[[Settings], pd.DataFrame] | None = None
    #: the captured source table whose rows the suite's warehouse table holds (rules apply)
    source_table: str | None = None


def _dates(column: str) -> Expectation:
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=EARLIEST, max_value=datetime.now(UTC) + timedelta(days=1)
    )


def _fact_orders(settings: Settings) -> list[Expectation]:
    return [
        *key_unique("orders"),
        *required_columns("orders"),
        *business_rules("orders", settings),
        _dates("ordered_at"),
        no_rows(
            "Every live order references the current-or-historic row of its own customer",
            """
            SELECT f.order_id, f.customer_id, f.customer_sk
            FROM {batch} f LEFT JOIN dw.dim_customer c ON c.customer_sk = f.customer_sk
            WHERE NOT f.is_deleted AND (c.customer_sk IS NULL OR c.customer_id <> f.customer_id)
            """,
        ),
    ]


def _fact_order_items(settings: Settings) -> list[Expectation]:
    return [
        *key_unique("order_items"),
        *required_columns("order_items"),
        *business_rules("order_items", settings),
        gxe.ExpectColumnValuesToBeBetween(column="line_amount", min_value=0),
        no_rows(
            "Every live order line references a row of its own product",
            """
            SELECT f.order_item_id, f.product_id, f.product_sk
            FROM {batch} f LEFT JOIN dw.dim_product p ON p.product_sk = f.product_sk
            WHERE NOT f.is_deleted AND (p.product_sk IS NULL OR p.product_id <> f.product_id)
            """,
        ),
        no_rows(
            "Each live order's item_quantity equals the sum of its live lines' quantity",
            """
            SELECT o.order_id, o.item_quantity, coalesce(sum(i.quantity), 0) AS lines_quantity
            FROM dw.fact_orders o
            LEFT JOIN {batch} i ON i.order_id = o.order_id AND NOT i.is_deleted
            WHERE NOT o.is_deleted
            GROUP BY o.order_id, o.item_quantity
            HAVING o.item_quantity <> coalesce(sum(i.quantity), 0)
            """,
        ),
    ]


def _dimension(source_table: str, table: str, key: str, sk: str) -> Callable[..., list]:
    def expectations(settings: Settings) -> list[Expectation]:
        return [
            *required_columns(source_table),
            *business_rules(source_table, settings),
            *no_placeholders(source_table),
            no_rows(
                # the suite's rows are the real versions; an inferred member is the only row of
                # its key until the first real change overwrites it, so counting over the keys
                # of real versions sees every key that could have two current rows
                f"Exactly one current row per {key} (inferred members included)",
                f"""
                SELECT d.{key}, count(*) FILTER (WHERE d.is_current) AS current_rows
                FROM dw.{table} d
                WHERE d.{key} IN (SELECT {key} FROM {{batch}})
                GROUP BY d.{key}
                HAVING count(*) FILTER (WHERE d.is_current) <> 1
                """,
            ),
            no_rows(
                f"No two versions of one {key} have overlapping validity ranges",
                f"""
                SELECT a.{key}, a.{sk} AS first_sk, b.{sk} AS second_sk
                FROM {{batch}} a JOIN dw.{table} b
                  ON b.{key} = a.{key} AND b.{sk} > a.{sk}
                 AND tstzrange(a.valid_from, a.valid_to) && tstzrange(b.valid_from, b.valid_to)
                """,
            ),
        ]

    return expectations


def _daily_sales(group: tuple[str, ...]) -> Callable[[Settings], list[Expectation]]:
    """The summary table equals a GROUP BY over `dw.order_sales_contribution` (the view the
    loader's deltas are defined by), compared column by column with a full join."""
    keys = ", ".join(group)
    measures = ("orders", "cancelled_orders", "items", "revenue")
    stored = ", ".join(f"a.{m}" for m in measures)
    recomputed = ", ".join(f"r.{m}" for m in measures)
    shown_keys = ", ".join(f"coalesce(a.{k}, r.{k}) AS {k}" for k in group)
    shown_measures = ", ".join(f"a.{m} AS stored_{m}, r.{m} AS recomputed_{m}" for m in measures)
    joined = " AND ".join(f"r.{k} = a.{k}" for k in group)

    def expectations(_: Settings) -> list[Expectation]:
        return [
            *[gxe.ExpectColumnValuesToNotBeNull(column=k) for k in group],
            *[gxe.ExpectColumnValuesToBeBetween(column=m, min_value=0) for m in measures],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=list(group))
            if len(group) > 1
            else gxe.ExpectColumnValuesToBeUnique(column=group[0]),
            no_rows(
                "Every summary row equals a recompute from the facts (and none is missing)",
                f"""
                WITH r AS (
                    SELECT {keys}, sum(orders) AS orders, sum(cancelled_orders) AS cancelled_orders,
                           sum(items) AS items, sum(revenue) AS revenue
                    FROM dw.order_sales_contribution GROUP BY {keys})
                SELECT {shown_keys}, {shown_measures}
                FROM {{batch}} a FULL JOIN r ON {joined}
                WHERE ({stored}) IS DISTINCT FROM ({recomputed})
                """,
            ),
        ]

    return expectations


def _freshness(settings: Settings) -> list[Expectation]:
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column="lag_s",
            min_value=0,
            max_value=settings.quality_freshness_max_lag_s,
            notes="newest source write minus newest applied source commit"
            " (ETL_QUALITY_FRESHNESS_MAX_LAG_S)",
        )
    ]


def _dlq(settings: Settings) -> list[Expectation]:
    return [
        gxe.ExpectColumnSumToBeBetween(
            column="dlq_messages",
            min_value=0,
            max_value=settings.quality_dlq_max_messages,
            notes="messages on the DLQ topic (ETL_QUALITY_DLQ_MAX_MESSAGES)",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="bad_share",
            min_value=0,
            max_value=settings.quality_dlq_max_share,
            notes="DLQ messages / CDC messages per table (ETL_QUALITY_DLQ_MAX_SHARE)",
        ),
    ]


SUITES: tuple[Suite, ...] = (
    Suite(
        "fact_orders",
        _fact_orders,
        query="SELECT * FROM dw.fact_orders",
        source_table="orders",
    ),
    Suite(
        "fact_order_items",
        _fact_order_items,
        query="SELECT * FROM dw.fact_order_items",
        source_table="order_items",
    ),
    Suite(
        "dim_customer",
        _dimension("customers", "dim_customer", "customer_id", "customer_sk"),
        query="SELECT * FROM dw.dim_customer WHERE NOT is_inferred",
        source_table="customers",
    ),
    Suite(
        "dim_product",
        _dimension("products", "dim_product", "product_id", "product_sk"),
        query="SELECT * FROM dw.dim_product WHERE NOT is_inferred",
        source_table="products",
    ),
    Suite("agg_daily_sales", _daily_sales(("date_key",)), query="SELECT * FROM dw.agg_daily_sales"),
    Suite(
        "agg_daily_sales_by_country",
        _daily_sales(("date_key", "country")),
        query="SELECT * FROM dw.agg_daily_sales_by_country",
    ),
    Suite("freshness", _freshness, frame=freshness_frame),
    Suite("dlq", _dlq, frame=dlq_frame),
)
SUITE_NAMES: tuple[str, ...] = tuple(s.name for s in SUITES)
#: What the loader's gate runs: every suite that reads only the warehouse (cheap, no Kafka).
WAREHOUSE_SUITES: tuple[str, ...] = tuple(s.name for s in SUITES if s.query is not None)
