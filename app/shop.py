"""The shop application's writes to the source database, one function per business operation.

Shared by `etl seed` (a deterministic burst, pipelined) and the Locust load test (`loadtests/`,
one user at a time), so both send CDC exactly the same statements. Every function takes a cursor
and leaves transaction control to its caller, except where the operation itself is one
transaction (an item edit changes the line and the order total together): those open
`cur.connection.transaction()`, which nests as a savepoint inside a caller's transaction.

Invariant kept by every operation: an order's `total_amount` equals the sum of its lines.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from faker import Faker

COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "PL", "SE", "AT", "BE", "DK"]
COUNTRY_WEIGHTS = [30, 20, 12, 10, 10, 6, 4, 3, 3, 2]
CATEGORIES = ["books", "garden", "kitchen", "toys", "electronics", "sports", "beauty"]
STATUS_FLOW = ["pending", "paid", "shipped", "delivered"]


#: The load test's shop mix: how many of each operation a shopper runs in every 23.
TASK_WEIGHTS = {
    "new_order": 10,
    "status_change": 8,
    "cancellation": 1,
    "item_edit": 1,
    "delete": 1,
    "customer_change": 1,
    "price_change": 1,
}


def tasks_per_order() -> float:
    """Shop tasks run per new order in the mix: what turns orders/s into tasks/s."""
    return sum(TASK_WEIGHTS.values()) / TASK_WEIGHTS["new_order"]


@dataclass
class ShopOrder:
    """What the writer remembers of an order it created: enough to change it consistently."""

    order_id: int
    status: str
    items: dict[int, tuple[int, Decimal]] = field(default_factory=dict)  # product -> (qty, price)

    @property
    def total(self) -> Decimal:
        return sum((q * p for q, p in self.items.values()), Decimal("0.00"))


def reserve_ids(conn: psycopg.Connection, table: str, column: str, count: int) -> list[int]:
    """Take `count` ids from the table's sequence up front: inserts need no RETURNING."""
    if count == 0:
        return []
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        (table, column, count),
    ).fetchall()
    return [r[0] for r in rows]


def new_customer_row(cid: int, rng: random.Random, fake: Faker) -> tuple[Any, ...]:
    first, last = fake.first_name(), fake.last_name()
    country = rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
    return (cid, f"{first}.{last}.{cid}@example.com".lower(), f"{first} {last}", country)


def new_product_row(pid: int, rng: random.Random, fake: Faker) -> tuple[Any, ...]:
    price = Decimal(rng.randrange(199, 25_000)) / 100
    return (pid, f"SKU-{pid:07d}", fake.catch_phrase()[:60], rng.choice(CATEGORIES), price)


def insert_products(cur: psycopg.Cursor, rows: list[tuple[Any, ...]]) -> None:
    cur.executemany(
        "INSERT INTO products (product_id, sku, name, category, unit_price)"
        " VALUES (%s, %s, %s, %s, %s)",
        rows,
    )


def insert_customer(cur: psycopg.Cursor, row: tuple[Any, ...]) -> None:
    cur.execute(
        "INSERT INTO customers (customer_id, email, full_name, country) VALUES (%s, %s, %s, %s)",
        row,
    )


def insert_order(
    cur: psycopg.Cursor, order: ShopOrder, customer_id: int, ordered_at: datetime
) -> None:
    """The order row and all its lines; the caller wraps them (and a new customer) in one
    transaction, as a shop checkout does."""
    cur.execute(
        "INSERT INTO orders (order_id, customer_id, status, total_amount,"
        " ordered_at, updated_at) VALUES (%s, %s, 'pending', %s, %s, %s)",
        (order.order_id, customer_id, order.total, ordered_at, ordered_at),
    )
    cur.executemany(
        "INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
        " VALUES (%s, %s, %s, %s)",
        [(order.order_id, pid, q, p) for pid, (q, p) in order.items.items()],
    )


def set_status(cur: psycopg.Cursor, order: ShopOrder, status: str) -> None:
    """A status change (progression or cancellation), its own transaction."""
    with cur.connection.transaction():
        cur.execute(
            "UPDATE orders SET status = %s, updated_at = now() WHERE order_id = %s",
            (status, order.order_id),
        )
    order.status = status


def edit_item(cur: psycopg.Cursor, order: ShopOrder, rng: random.Random) -> None:
    """Change one line's quantity and the order total in one transaction."""
    pid = rng.choice(sorted(order.items))
    _, price = order.items[pid]
    order.items[pid] = (rng.randint(1, 9), price)
    with cur.connection.transaction():
        cur.execute(
            "UPDATE order_items SET quantity = %s WHERE order_id = %s AND product_id = %s",
            (order.items[pid][0], order.order_id, pid),
        )
        cur.execute(
            "UPDATE orders SET total_amount = %s, updated_at = now() WHERE order_id = %s",
            (order.total, order.order_id),
        )


def delete_order(cur: psycopg.Cursor, order_id: int) -> None:
    """Its lines go with it (ON DELETE CASCADE): CDC sees the order's and each line's delete."""
    cur.execute("DELETE FROM orders WHERE order_id = %s", (order_id,))


def move_customer(cur: psycopg.Cursor, customer_id: int, country: str) -> None:
    cur.execute(
        "UPDATE customers SET country = %s, updated_at = now() WHERE customer_id = %s",
        (country, customer_id),
    )


def change_price(cur: psycopg.Cursor, product_id: int, factor: Decimal) -> None:
    cur.execute(
        "UPDATE products SET unit_price = round(unit_price * %s, 2),"
        " updated_at = now() WHERE product_id = %s",
        (factor, product_id),
    )
