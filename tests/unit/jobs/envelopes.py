"""Debezium envelopes shaped like the ones the running stack produces (JSON converter without
schemas, decimals as strings, timestamptz as UTC `ZonedTimestamp`), captured from
`cdc.public.*` and trimmed to what varies. Shared by unit, integration and benchmark tests."""

from __future__ import annotations

import copy
from typing import Any

#: One valid row per table, as Debezium puts it in `after`.
ROWS: dict[str, dict[str, Any]] = {
    "customers": {
        "customer_id": 1,
        "email": "a@x.io",
        "full_name": "Zoë Ærø",
        "country": "DE",
        "created_at": "2026-11-27T07:43:22.827498Z",
        "updated_at": "2026-11-27T07:43:22.827498Z",
    },
    "products": {
        "product_id": 1,
        "sku": "S1",
        "name": "Thing",
        "category": "cat",
        "unit_price": "12.50",
        "currency": "EUR",
        "created_at": "2026-11-27T07:43:22.834291Z",
        "updated_at": "2026-11-27T07:43:22.834291Z",
    },
    "orders": {
        "order_id": 1,
        "customer_id": 1,
        "status": "pending",
        "currency": "EUR",
        "total_amount": "25.00",
        "ordered_at": "2026-11-27T07:43:22.842316Z",
        "updated_at": "2026-11-27T07:43:22.842316Z",
    },
    "order_items": {
        "order_item_id": 1,
        "order_id": 1,
        "product_id": 1,
        "quantity": 2,
        "unit_price": "12.50",
    },
}

#: What Debezium sends as `before` of a delete on a DEFAULT-identity table: the key, and
#: placeholders for the other NOT NULL columns.
KEY_ONLY_BEFORE: dict[str, dict[str, Any]] = {
    "customers": {
        "customer_id": 1,
        "email": "",
        "full_name": "",
        "country": "",
        "created_at": "1970-01-01T00:00:00.000000Z",
        "updated_at": "1970-01-01T00:00:00.000000Z",
    },
    "products": {
        "product_id": 1,
        "sku": "",
        "name": "",
        "category": "",
        "unit_price": "0",
        "currency": "",
        "created_at": "1970-01-01T00:00:00.000000Z",
        "updated_at": "1970-01-01T00:00:00.000000Z",
    },
}


def row(table: str, **changes: Any) -> dict[str, Any]:
    """A valid row of `table` with some columns changed."""
    return {**copy.deepcopy(ROWS[table]), **changes}


def envelope(
    table: str,
    op: str = "c",
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    lsn: int = 26877712,
    tx_id: int | None = 832,
    source_ts_ms: int = 1795765402844,
    ts_ms: int = 1795765403465,
) -> dict[str, Any]:
    """A Debezium change event value for `table` (after defaults to a valid row for c/u/r)."""
    if after is None and op in ("c", "u", "r"):
        after = row(table)
    return {
        "before": before,
        "after": after,
        "source": {
            "version": "3.6.1.Final",
            "connector": "postgresql",
            "name": "cdc",
            "ts_ms": source_ts_ms,
            "snapshot": "true" if op == "r" else "false",
            "db": "shop",
            "sequence": f'["{lsn - 104}","{lsn}"]',
            "ts_us": source_ts_ms * 1000,
            "ts_ns": source_ts_ms * 1_000_000,
            "schema": "public",
            "table": table,
            "txId": tx_id,
            "lsn": lsn,
            "xmin": None,
            "origin": None,
            "origin_lsn": None,
        },
        "transaction": None,
        "op": op,
        "ts_ms": ts_ms,
        "ts_us": ts_ms * 1000,
        "ts_ns": ts_ms * 1_000_000,
    }
