"""Sample shop traffic for the source database: `etl seed --orders N [--seed S]`.

Writes what a real shop application would: new customers and products, orders of 1-5 items in
one transaction each (the order's total always equals the sum of its items), then later changes
in their own transactions: status progressions, cancellations, item edits (total kept equal),
deletes, customers moving country, price changes. Same seed on the same database state, same
data (random.Random + Faker seeded). Fast: ids are reserved from the sequences up front, so every
statement can be pipelined (psycopg pipeline mode) without waiting for RETURNING round trips.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from faker import Faker

COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "PL", "SE", "AT", "BE", "DK"]
COUNTRY_WEIGHTS = [30, 20, 12, 10, 10, 6, 4, 3, 3, 2]
CATEGORIES = ["books", "garden", "kitchen", "toys", "electronics", "sports", "beauty"]
STATUS_FLOW = ["pending", "paid", "shipped", "delivered"]


@dataclass(frozen=True)
class SeedPlan:
    orders: int
    seed: int = 42
    new_customer_ratio: float = 0.35
    progress_ratio: float = 0.7  # orders that move on from pending at least once
    cancel_ratio: float = 0.08
    item_edit_ratio: float = 0.05
    delete_ratio: float = 0.03
    customer_move_ratio: float = 0.03
    price_change_ratio: float = 0.05
    days: int = 14  # ordered_at spread over the last N days


@dataclass
class _Order:
    order_id: int
    status: str
    items: dict[int, tuple[int, Decimal]] = field(default_factory=dict)  # product -> (qty, price)

    @property
    def total(self) -> Decimal:
        return sum((q * p for q, p in self.items.values()), Decimal("0.00"))


def _reserve_ids(conn: psycopg.Connection, table: str, column: str, count: int) -> list[int]:
    if count == 0:
        return []
    rows = conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        (table, column, count),
    ).fetchall()
    return [r[0] for r in rows]


class _Seeder:
    def __init__(self, conn: psycopg.Connection, plan: SeedPlan) -> None:
        self.conn = conn
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.fake = Faker()
        self.fake.seed_instance(plan.seed)
        self.counts: dict[str, int] = dict.fromkeys(
            [
                "customers",
                "products",
                "orders",
                "order_items",
                "status_updates",
                "cancellations",
                "item_edits",
                "deletes",
                "customer_updates",
                "price_changes",
            ],
            0,
        )
        self.now = datetime.now(UTC)

    # ---- reference data ----
    def load_or_create_products(self) -> dict[int, Decimal]:
        prices: dict[int, Decimal] = dict(
            self.conn.execute("SELECT product_id, unit_price FROM products").fetchall()
        )
        wanted = max(20, self.plan.orders // 25)
        missing = max(0, wanted - len(prices))
        ids = _reserve_ids(self.conn, "products", "product_id", missing)
        rows = []
        for pid in ids:
            price = Decimal(self.rng.randrange(199, 25_000)) / 100
            rows.append(
                (
                    pid,
                    f"SKU-{pid:07d}",
                    self.fake.catch_phrase()[:60],
                    self.rng.choice(CATEGORIES),
                    price,
                )
            )
            prices[pid] = price
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO products (product_id, sku, name, category, unit_price)"
                " VALUES (%s, %s, %s, %s, %s)",
                rows,
            )
        self.counts["products"] = len(rows)
        return prices

    def new_customer_row(self, cid: int) -> tuple[Any, ...]:
        first, last = self.fake.first_name(), self.fake.last_name()
        country = self.rng.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
        return (cid, f"{first}.{last}.{cid}@example.com".lower(), f"{first} {last}", country)

    # ---- orders ----
    def create_orders(self, prices: dict[int, Decimal]) -> list[_Order]:
        customers = [r[0] for r in self.conn.execute("SELECT customer_id FROM customers")]
        plan = self.plan
        new_flags = [
            (i == 0 and not customers) or self.rng.random() < plan.new_customer_ratio
            for i in range(plan.orders)
        ]
        new_ids = iter(_reserve_ids(self.conn, "customers", "customer_id", sum(new_flags)))
        order_ids = _reserve_ids(self.conn, "orders", "order_id", plan.orders)
        product_ids = sorted(prices)
        orders: list[_Order] = []
        with self.conn.pipeline(), self.conn.cursor() as cur:
            for order_id, is_new in zip(order_ids, new_flags, strict=True):
                with self.conn.transaction():
                    if is_new:
                        cid = next(new_ids)
                        cur.execute(
                            "INSERT INTO customers (customer_id, email, full_name, country)"
                            " VALUES (%s, %s, %s, %s)",
                            self.new_customer_row(cid),
                        )
                        customers.append(cid)
                        self.counts["customers"] += 1
                    else:
                        cid = self.rng.choice(customers)
                    order = _Order(order_id, "pending")
                    for pid in self.rng.sample(product_ids, self.rng.randint(1, 5)):
                        order.items[pid] = (self.rng.randint(1, 5), prices[pid])
                    ordered_at = self.now - timedelta(seconds=self.rng.randrange(plan.days * 86400))
                    cur.execute(
                        "INSERT INTO orders (order_id, customer_id, status, total_amount,"
                        " ordered_at, updated_at) VALUES (%s, %s, 'pending', %s, %s, %s)",
                        (order_id, cid, order.total, ordered_at, ordered_at),
                    )
                    cur.executemany(
                        "INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
                        " VALUES (%s, %s, %s, %s)",
                        [(order_id, pid, q, p) for pid, (q, p) in order.items.items()],
                    )
                    self.counts["orders"] += 1
                    self.counts["order_items"] += len(order.items)
                    orders.append(order)
        return orders

    # ---- later changes, each its own transaction ----
    def evolve(self, orders: list[_Order], prices: dict[int, Decimal]) -> None:
        plan, rng = self.plan, self.rng
        with self.conn.pipeline(), self.conn.cursor() as cur:
            for order in orders:
                if rng.random() < plan.item_edit_ratio:  # edits happen while still pending
                    self._edit_item(cur, order)
                roll = rng.random()
                if roll < plan.cancel_ratio:
                    self._set_status(cur, order, "cancelled")
                    self.counts["cancellations"] += 1
                elif roll < plan.cancel_ratio + plan.progress_ratio:
                    for status in STATUS_FLOW[1 : rng.randint(2, len(STATUS_FLOW))]:
                        self._set_status(cur, order, status)
                        self.counts["status_updates"] += 1
            for order in rng.sample(orders, int(len(orders) * plan.delete_ratio)):
                cur.execute("DELETE FROM orders WHERE order_id = %s", (order.order_id,))
                self.counts["deletes"] += 1
            customers = [r[0] for r in self.conn.execute("SELECT customer_id FROM customers")]
            for cid in rng.sample(customers, int(len(customers) * plan.customer_move_ratio)):
                cur.execute(
                    "UPDATE customers SET country = %s, updated_at = now() WHERE customer_id = %s",
                    (rng.choice(COUNTRIES), cid),
                )
                self.counts["customer_updates"] += 1
            for pid in rng.sample(sorted(prices), int(len(prices) * plan.price_change_ratio) or 1):
                factor = Decimal(rng.randrange(80, 125)) / 100
                cur.execute(
                    "UPDATE products SET unit_price = round(unit_price * %s, 2),"
                    " updated_at = now() WHERE product_id = %s",
                    (factor, pid),
                )
                self.counts["price_changes"] += 1

    def _set_status(self, cur: psycopg.Cursor, order: _Order, status: str) -> None:
        with self.conn.transaction():
            cur.execute(
                "UPDATE orders SET status = %s, updated_at = now() WHERE order_id = %s",
                (status, order.order_id),
            )
        order.status = status

    def _edit_item(self, cur: psycopg.Cursor, order: _Order) -> None:
        """Change one line's quantity and the order total in one transaction."""
        pid = self.rng.choice(sorted(order.items))
        _, price = order.items[pid]
        order.items[pid] = (self.rng.randint(1, 9), price)
        with self.conn.transaction():
            cur.execute(
                "UPDATE order_items SET quantity = %s WHERE order_id = %s AND product_id = %s",
                (order.items[pid][0], order.order_id, pid),
            )
            cur.execute(
                "UPDATE orders SET total_amount = %s, updated_at = now() WHERE order_id = %s",
                (order.total, order.order_id),
            )
        self.counts["item_edits"] += 1


def run_seed(dsn: str, plan: SeedPlan) -> dict[str, Any]:
    """Write the plan's changes; return what was written and how fast."""
    started = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        # A load generator need not wait for each commit's WAL flush (fsync per order would be
        # the bottleneck); order and atomicity of commits, all CDC sees, are unchanged.
        conn.execute("SET synchronous_commit = off")
        seeder = _Seeder(conn, plan)
        prices = seeder.load_or_create_products()
        orders = seeder.create_orders(prices)
        seeder.evolve(orders, prices)
    seconds = time.perf_counter() - started
    return {
        **seeder.counts,
        "seconds": round(seconds, 2),
        "orders_per_s": round(plan.orders / seconds, 1) if seconds else None,
    }
