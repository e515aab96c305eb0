"""Who makes the load: shoppers writing the shop's mix, and an end-to-end probe per target.

- `Shopper`: one source connection per user (autocommit, default `synchronous_commit`, as a shop
  application runs), writing through `app.shop`, the same functions `etl seed` uses. The weights
  of `app.shop.TASK_WEIGHTS` give the mix, dealt from a shuffled deck (`next_operation`):
  checkouts of 1-5 items in one transaction (a third with a new customer),
  status progressions, cancellations, item edits, deletes, customers moving country, price
  changes. A shopper changes only orders it created itself, so shoppers never fight over rows
  and never touch the probe's marker orders. Each operation is one Locust request of type `sql`.
- `EndToEndProbe`: exactly one per target named in `LOAD_TARGETS` (default `pipeline`; the
  peers `logical` and `jdbc` once `etl bench compare` has set them up). Each commits marker
  orders through `app.bench.LatencyProbe`, the `etl bench latency` probe, and reports the time
  from a COMMIT to the row in its target (`dw.fact_orders`, or the peer's `orders`) as a request
  of type `e2e` named after the target. Targets are polled every 5 ms, so figures are exact to
  that plus gevent's scheduling under load.

Pacing: by default each shopper pauses 0.05-0.25 s between operations (a shop's clicks). With
`LOAD_RATE` (orders/s for the whole run, e.g. 200) every shopper runs at a constant throughput
chosen so that the new orders among the mix add up to that rate: the offered rate of the
capacity finder and `etl bench compare`, independent of how fast the source answers (as long as
there are enough users; too few show as an achieved rate below the offered one).
`LOAD_RATE=max` removes the pause: the source-only ceiling.

The shared reference data (products and prices, customers) is read once at test start; the
shop gets at least MIN_PRODUCTS products first, so a fresh stack can take load at once.

When a shape ends a headless run, Locust 2.47 kills users wherever they are (`--stop-timeout`
does not change that here): a transaction cut off half way is never committed, is not reported
as a request, and the server rolls it back when `on_stop` closes the connection. psycopg's
warning about the rollback it could not send is therefore silenced.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import cast

import locust  # patches the standard library with gevent: psycopg must be imported after it
import psycopg
from faker import Faker
from locust import User, between, constant, constant_throughput, events, task

from app import shop
from app.bench import LatencyProbe, MarkerTarget, warehouse_target
from app.peers import peer_dsn, peer_target
from etl.errors import EtlError
from etl.settings import Settings, load_settings
from infra.peers import PEERS, Peer
from loadtests.report import greenlet_exit, report, request

MIN_PRODUCTS = 50
KEEP_ORDERS = 200  # orders a shopper remembers to change later
PROBE_TIMEOUT_S = 60.0
#: Shoppers buy and reprice only products below this: a price change of a product priced near
#: the top of `numeric(12,2)` (a source may hold one) would overflow, a failure of the shop's
#: data, not of the load.
MAX_PRICE_TO_CHANGE = Decimal("1000000")
TARGETS = ("pipeline", *PEERS)

_fake = Faker()
logging.getLogger("psycopg.transaction").setLevel(logging.ERROR)  # see the module docstring
#: product id -> price and the customer ids, shared by all shoppers of this process
_prices: dict[int, Decimal] = {}
_customers: list[int] = []


@events.test_start.add_listener
def load_reference_data(environment: locust.env.Environment, **_: object) -> None:
    """Make sure there are products to buy, then read products and customers once."""
    with psycopg.connect(load_settings().source_dsn(), autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM products").fetchone()[0]  # type: ignore[index]
        ids = shop.reserve_ids(conn, "products", "product_id", max(0, MIN_PRODUCTS - have))
        rng = random.Random()
        with conn.transaction(), conn.cursor() as cur:
            shop.insert_products(cur, [shop.new_product_row(pid, rng, _fake) for pid in ids])
        _prices.clear()
        _prices.update(
            conn.execute(
                "SELECT product_id, unit_price FROM products WHERE unit_price < %s",
                (MAX_PRICE_TO_CHANGE,),
            ).fetchall()
        )
        _customers[:] = [r[0] for r in conn.execute("SELECT customer_id FROM customers")]


def load_targets(value: str) -> list[str]:
    """`LOAD_TARGETS`, checked: a bad name stops Locust with one line naming the choice."""
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names or set(names) - set(TARGETS):
        raise SystemExit(f"LOAD_TARGETS={value!r}: name one or more of {', '.join(TARGETS)}")
    return names


def shopper_wait(rate: str | None, users: int) -> Callable[[User], float]:
    """The shoppers' pause (`LOAD_RATE`, module docstring): a shop's clicks when unset, none at
    `max`, else constant throughput so the new orders among all tasks add up to `rate` orders/s
    over `users` shoppers."""
    if not rate:
        return between(0.05, 0.25)
    if rate.strip().lower() == "max":
        return constant(0)
    try:
        orders_per_s = float(rate)
        if orders_per_s <= 0:
            raise ValueError
    except ValueError:
        raise SystemExit(f"LOAD_RATE={rate!r} is not a rate: orders/s > 0, or max") from None
    return constant_throughput(orders_per_s * shop.tasks_per_order() / max(1, users))


class Shopper(User):
    """A shop's customers and back office, as one stream of writes."""

    def wait_time(self) -> float:
        parsed = self.environment.parsed_options
        shoppers = max(1, (getattr(parsed, "num_users", None) or 1) - len(_probe_targets()))
        if not hasattr(self, "_wait"):
            self._wait = shopper_wait(os.environ.get("LOAD_RATE"), shoppers)
        return self._wait(self)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.orders: list[shop.ShopOrder] = []
        self.deck: list[str] = []
        self.conn = psycopg.connect(load_settings().source_dsn(), autocommit=True)

    @task
    def next_operation(self) -> None:
        """The next operation of the mix, dealt from a shuffled deck holding each operation as
        often as its weight: the mix is exact over every deck, so a paced run offers its rate
        of new orders without the drift of independent random picks."""
        if not self.deck:
            self.deck = [name for name, weight in shop.TASK_WEIGHTS.items() for _ in range(weight)]
            self.rng.shuffle(self.deck)
        getattr(self, self.deck.pop())()

    def on_stop(self) -> None:
        self.conn.close()

    def _mine(self, *statuses: str) -> shop.ShopOrder | None:
        candidates = [o for o in self.orders if o.status in statuses]
        return self.rng.choice(candidates) if candidates else None

    def new_order(self) -> None:
        with request(self.environment, "sql", "new order"):
            order, new_customer = self._checkout()
            # shared or remembered only once committed: others may refer to them from now on
            self.orders = [*self.orders[-KEEP_ORDERS + 1 :], order]
            if new_customer is not None:
                _customers.append(new_customer)

    def _checkout(self) -> tuple[shop.ShopOrder, int | None]:
        """An order of 1-5 items, a third of them by a new customer, in one transaction."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            if not _customers or self.rng.random() < 0.35:
                cid = shop.reserve_ids(self.conn, "customers", "customer_id", 1)[0]
                shop.insert_customer(cur, shop.new_customer_row(cid, self.rng, _fake))
                new_customer: int | None = cid
            else:
                cid, new_customer = self.rng.choice(_customers), None
            (order_id,) = shop.reserve_ids(self.conn, "orders", "order_id", 1)
            order = shop.ShopOrder(order_id, "pending")
            for pid in self.rng.sample(sorted(_prices), self.rng.randint(1, 5)):
                order.items[pid] = (self.rng.randint(1, 5), _prices[pid])
            shop.insert_order(cur, order, cid, datetime.now(UTC))
        return order, new_customer

    def status_change(self) -> None:
        order = self._mine(*shop.STATUS_FLOW[:-1])
        if order is not None:
            following = shop.STATUS_FLOW[shop.STATUS_FLOW.index(order.status) + 1]
            with request(self.environment, "sql", "status change"):
                shop.set_status(self.conn.cursor(), order, following)

    def cancellation(self) -> None:
        order = self._mine("pending", "paid")
        if order is not None:
            with request(self.environment, "sql", "cancellation"):
                shop.set_status(self.conn.cursor(), order, "cancelled")

    def item_edit(self) -> None:
        order = self._mine("pending")
        if order is not None:
            with request(self.environment, "sql", "item edit"):
                shop.edit_item(self.conn.cursor(), order, self.rng)

    def delete(self) -> None:
        order = self._mine(*shop.STATUS_FLOW, "cancelled")
        if order is not None:
            self.orders.remove(order)
            with request(self.environment, "sql", "order delete"):
                shop.delete_order(self.conn.cursor(), order.order_id)

    def customer_change(self) -> None:
        if _customers:
            cid, country = self.rng.choice(_customers), self.rng.choice(shop.COUNTRIES)
            with request(self.environment, "sql", "customer change"):
                shop.move_customer(self.conn.cursor(), cid, country)

    def price_change(self) -> None:
        pid = self.rng.choice(sorted(_prices))
        with request(self.environment, "sql", "price change"):
            shop.change_price(self.conn.cursor(), pid, Decimal(self.rng.randrange(80, 125)) / 100)


def _probe_targets() -> list[str]:
    return load_targets(os.environ.get("LOAD_TARGETS", "pipeline"))


def _marker_target(settings: Settings, name: str) -> MarkerTarget:
    """An open autocommit connection to `name`'s copy, as the probe's target."""
    if name == "pipeline":
        return warehouse_target(psycopg.connect(settings.warehouse_dsn(), autocommit=True))
    peer = cast(Peer, name)  # checked by load_targets
    return peer_target(psycopg.connect(peer_dsn(settings, peer), autocommit=True), peer)


_next_probe = itertools.count()


class EndToEndProbe(User):
    """One marker order at a time: source COMMIT to the row in one target, as request type `e2e`
    named after the target. One probe per target (`LOAD_TARGETS`), each with its own orders."""

    fixed_count = len(_probe_targets())
    wait_time = constant(float(os.environ.get("LOAD_PROBE_INTERVAL_S", "0.5")))

    def on_start(self) -> None:
        targets = _probe_targets()
        settings = load_settings()
        self.src = psycopg.connect(settings.source_dsn(), autocommit=True)
        self.target = _marker_target(settings, targets[next(_next_probe) % len(targets)])
        self.probe = LatencyProbe(self.src, self.target, PROBE_TIMEOUT_S)

    def on_stop(self) -> None:
        self.src.close()
        self.target.conn.close()

    @task
    def commit_to_target(self) -> None:
        started = time.perf_counter()
        error: Exception | None = None
        try:
            _, seconds = self.probe.measure()
        except (EtlError, psycopg.Error) as exc:
            if (killed := greenlet_exit(exc)) is not None:
                raise killed from None
            seconds, error = time.perf_counter() - started, exc
        report(self.environment, "e2e", self.target.name, seconds, error)
