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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from faker import Faker

from app import shop
from app.shop import COUNTRIES, STATUS_FLOW, ShopOrder, reserve_ids


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
        ids = reserve_ids(self.conn, "products", "product_id", missing)
        rows = [shop.new_product_row(pid, self.rng, self.fake) for pid in ids]
        prices.update((row[0], row[4]) for row in rows)
        with self.conn.transaction(), self.conn.cursor() as cur:
            shop.insert_products(cur, rows)
        self.counts["products"] = len(rows)
        return prices

    # ---- orders ----
    def create_orders(self, prices: dict[int, Decimal]) -> list[ShopOrder]:
        customers = [r[0] for r in self.conn.execute("SELECT customer_id FROM customers")]
        plan = self.plan
        new_flags = [
            (i == 0 and not customers) or self.rng.random() < plan.new_customer_ratio
            for i in range(plan.orders)
        ]
        new_ids = iter(reserve_ids(self.conn, "customers", "customer_id", sum(new_flags)))
        order_ids = reserve_ids(self.conn, "orders", "order_id", plan.orders)
        product_ids = sorted(prices)
        orders: list[ShopOrder] = []
        with self.conn.pipeline(), self.conn.cursor() as cur:
            for order_id, is_new in zip(order_ids, new_flags, strict=True):
                with self.conn.transaction():
                    if is_new:
                        cid = next(new_ids)
                        shop.insert_customer(cur, shop.new_customer_row(cid, self.rng, self.fake))
                        customers.append(cid)
                        self.counts["customers"] += 1
                    else:
                        cid = self.rng.choice(customers)
                    order = ShopOrder(order_id, "pending")
                    for pid in self.rng.sample(product_ids, self.rng.randint(1, 5)):
                        order.items[pid] = (self.rng.randint(1, 5), prices[pid])
                    ordered_at = self.now - timedelta(seconds=self.rng.randrange(plan.days * 86400))
                    shop.insert_order(cur, order, cid, ordered_at)
                    self.counts["orders"] += 1
                    self.counts["order_items"] += len(order.items)
                    orders.append(order)
        return orders

    # ---- later changes, each its own transaction ----
    def evolve(self, orders: list[ShopOrder], prices: dict[int, Decimal]) -> None:
        plan, rng = self.plan, self.rng
        with self.conn.pipeline(), self.conn.cursor() as cur:
            for order in orders:
                if rng.random() < plan.item_edit_ratio:  # edits happen while still pending
                    shop.edit_item(cur, order, rng)
                    self.counts["item_edits"] += 1
                roll = rng.random()
                if roll < plan.cancel_ratio:
                    shop.set_status(cur, order, "cancelled")
                    self.counts["cancellations"] += 1
                elif roll < plan.cancel_ratio + plan.progress_ratio:
                    for status in STATUS_FLOW[1 : rng.randint(2, len(STATUS_FLOW))]:
                        shop.set_status(cur, order, status)
                        self.counts["status_updates"] += 1
            for order in rng.sample(orders, int(len(orders) * plan.delete_ratio)):
                shop.delete_order(cur, order.order_id)
                self.counts["deletes"] += 1
            customers = [r[0] for r in self.conn.execute("SELECT customer_id FROM customers")]
            for cid in rng.sample(customers, int(len(customers) * plan.customer_move_ratio)):
                shop.move_customer(cur, cid, rng.choice(COUNTRIES))
                self.counts["customer_updates"] += 1
            for pid in rng.sample(sorted(prices), int(len(prices) * plan.price_change_ratio) or 1):
                shop.change_price(cur, pid, Decimal(rng.randrange(80, 125)) / 100)
                self.counts["price_changes"] += 1


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
