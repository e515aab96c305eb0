"""Crafted curated change records (etl/records.py) for the loader's tests.

Builders for single records, and `change_history`: a plausible history of a small shop
(customers moving country, orders progressing, cancelled or deleted with their lines, lines
edited) with strictly increasing versions, plus the state it must leave in the warehouse.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from loaders.entities import ENTITIES

BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def iso_at(version: int) -> str:
    """The source commit time of a version (BASE_MS + version seconds) as an ISO string."""
    return datetime.fromtimestamp(BASE_MS / 1000 + version, UTC).isoformat()


def change(entity: str, key: int, version: int, op: str = "u", **data: Any) -> dict[str, Any]:
    """A curated change record (etl/records.py); source time = BASE_MS + version seconds."""
    key_col = ENTITIES[entity].key
    ts_ms = BASE_MS + version * 1000
    return {
        "entity": entity,
        "op": op,
        "key": {key_col: key},
        "version": version,
        "tx_id": version,
        "source_ts_ms": ts_ms,
        "event_ts_ms": ts_ms + 5,
        "deleted": op == "d",
        "data": {key_col: key, **data},
    }


def customer(cid: int, version: int, country: str = "DE", op: str = "u", **extra: Any) -> dict:
    return change(
        "customers",
        cid,
        version,
        op,
        email=f"c{cid}@example.org",
        full_name=extra.pop("full_name", f"Customer {cid}"),
        country=country,
        created_at="2026-01-01T00:00:00Z",
        updated_at=iso_at(version),
        **extra,
    )


def product(pid: int, version: int, price: str = "10.00", op: str = "u") -> dict:
    return change(
        "products",
        pid,
        version,
        op,
        sku=f"SKU-{pid}",
        name=f"Product {pid}",
        category="books",
        unit_price=price,
        currency="EUR",
        created_at="2026-01-01T00:00:00Z",
        updated_at="2026-01-01T00:00:00Z",
    )


def order(
    oid: int,
    version: int,
    cid: int = 1,
    status: str = "pending",
    total: str = "20.00",
    day: str = "2026-01-05",
    op: str = "u",
) -> dict:
    return change(
        "orders",
        oid,
        version,
        op,
        customer_id=cid,
        status=status,
        currency="EUR",
        total_amount=total,
        ordered_at=f"{day}T10:00:00Z",
        updated_at=f"{day}T10:00:{version % 60:02d}Z",
    )


def item(
    iid: int,
    version: int,
    oid: int,
    pid: int = 1,
    qty: int = 2,
    price: str = "10.00",
    op: str = "u",
) -> dict:
    return change(
        "order_items",
        iid,
        version,
        op,
        order_id=oid,
        product_id=pid,
        quantity=qty,
        unit_price=price,
    )


def change_history(
    rng: random.Random, orders: int, customers: int = 5, products: int = 3
) -> list[dict[str, Any]]:
    """Records in commit order (versions 1, 2, 3, ...), as the transform job would emit them."""
    records: list[dict[str, Any]] = []
    version = 0

    def nxt() -> int:
        nonlocal version
        version += 1
        return version

    for cid in range(1, customers + 1):
        records.append(customer(cid, nxt(), country=rng.choice(["DE", "FR", "NL"]), op="c"))
    for pid in range(1, products + 1):
        records.append(product(pid, nxt(), op="c"))
    for oid in range(1, orders + 1):
        cid, day = rng.randint(1, customers), f"2026-01-0{rng.randint(1, 4)}"
        lines = {100 * oid + n: (rng.randint(1, products), rng.randint(1, 4)) for n in range(2)}
        total = f"{sum(q * 10 for _, q in lines.values())}.00"
        records.append(order(oid, nxt(), cid=cid, total=total, day=day, op="c"))
        for iid, (pid, qty) in lines.items():
            records.append(item(iid, nxt(), oid=oid, pid=pid, qty=qty, op="c"))
        fate = rng.random()
        if fate < 0.3:
            records.append(order(oid, nxt(), cid=cid, status="cancelled", total=total, day=day))
        elif fate < 0.45:
            for iid in lines:
                records.append(item(iid, nxt(), oid=oid, op="d"))
            records.append(order(oid, nxt(), cid=cid, total=total, day=day, op="d"))
        elif fate < 0.6:
            records.append(customer(cid, nxt(), country=rng.choice(["ES", "IT"])))
    return records


def expected_versions(records: list[dict[str, Any]]) -> dict[str, dict[int, tuple[int, bool]]]:
    """Per entity: key -> (newest version, deleted?) — what the warehouse must end up holding."""
    latest: dict[str, dict[int, tuple[int, bool]]] = {name: {} for name in ENTITIES}
    for r in records:
        key = r["key"][ENTITIES[r["entity"]].key]
        known = latest[r["entity"]].get(key)
        if known is None or r["version"] > known[0]:
            latest[r["entity"]][key] = (r["version"], r["deleted"])
    return latest


#: the warehouse's counterpart of expected_versions (dims: current row; facts: the row)
WAREHOUSE_VERSIONS = {
    "customers": "SELECT customer_id, version, is_deleted FROM dw.dim_customer WHERE is_current",
    "products": "SELECT product_id, version, is_deleted FROM dw.dim_product WHERE is_current",
    "orders": "SELECT order_id, version, is_deleted FROM dw.fact_orders",
    "order_items": "SELECT order_item_id, version, is_deleted FROM dw.fact_order_items",
}
