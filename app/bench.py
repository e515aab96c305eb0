"""`etl bench latency` and `etl bench burst`: how fast changes get through a running stack.

Both talk to the stack only through its settings (source and warehouse DSNs, Kafka), so they work
against the local stack and the Docker one alike. Wall-clock times are read on this machine,
which writes the source and reads the warehouse itself: no clock of another host is involved.

- latency: single orders, one at a time, with the pipeline idle in between; for each, the time
  from the source COMMIT returning to its row being visible in `dw.fact_orders` (the warehouse is
  polled every POLL_S, so figures are exact to that).
- burst: `etl seed` of N orders as fast as the source takes them, then the time until every hop
  has drained and the warehouse's current state equals the source's (counts and row-hash sums
  per table, reconcile's tiers 1-2). Reported: seed time, drain time after the seed ended, end to
  end orders/s and change events/s, and when each hop caught up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from pydantic import BaseModel

from app.seed import SeedPlan, run_seed
from etl.errors import EtlError
from etl.settings import Settings
from etl.source_db import current_wal_lsn, wait_for_slot
from etl.topics import message_counts
from loaders.entities import ENTITIES, Entity
from loaders.lag import curated_lag, transform_lag
from loaders.reconcile import Side, source_side, warehouse_side

POLL_S = 0.005
Progress = Callable[[int, int], None]  # (done, total)

#: One customer and one product the latency orders use, created once (no change if present).
_BENCH_CUSTOMER = (
    "INSERT INTO customers (email, full_name, country) VALUES ('bench@example.org',"
    " 'Latency Bench', 'DE') ON CONFLICT (email) DO NOTHING",
    "SELECT customer_id FROM customers WHERE email = 'bench@example.org'",
)
_BENCH_PRODUCT = (
    "INSERT INTO products (sku, name, category, unit_price) VALUES ('BENCH-1', 'Bench item',"
    " 'books', 10.00) ON CONFLICT (sku) DO NOTHING",
    "SELECT product_id FROM products WHERE sku = 'BENCH-1'",
)


#: The marker order's own fact: a row with its id whose change is not older than the marker's
#: transaction. An id alone is not enough: after `TRUNCATE ... RESTART IDENTITY` on the source the
#: ids come again, and the soft-deleted fact of the old order would be found at once (0 s).
_ORDER = "SELECT 1 FROM dw.fact_orders WHERE order_id = %(order_id)s AND version >= %(lsn)s"
_LIVE_PRODUCT = "SELECT 1 FROM dw.dim_product WHERE product_id = %s AND NOT is_inferred"


def _ensure_row(conn: psycopg.Connection, statements: tuple[str, str]) -> int:
    insert, select = statements
    conn.execute(insert)
    row = conn.execute(select).fetchone()
    assert row is not None
    return int(row[0])


def no_progress(done: int, total: int) -> None:
    pass


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation): a value that was really measured."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


# --------------------------------------------------------------------------- latency


class LatencyResult(BaseModel):
    orders: int
    p50_s: float
    p95_s: float
    max_s: float
    mean_s: float
    idle_between_s: float
    samples_s: list[float]


@dataclass(frozen=True)
class Marker:
    """A committed marker order: its id; the source's WAL position before its changes (each of
    them is at or after `lsn`, every older change before); its transaction's start (`now()`,
    its `ordered_at` and `updated_at`)."""

    order_id: int
    lsn: int
    started_at: datetime


@dataclass(frozen=True)
class MarkerTarget:
    """Where marker orders are awaited: a name, a connection and the queries that find a product
    by key (`%s`) and a marker order (named placeholders, the fields of `Marker`). The warehouse
    for this pipeline (`warehouse_target`); a peer's copy of the source tables for the load
    tests' peers (`app.peers`), so all are timed the same way."""

    name: str
    conn: psycopg.Connection
    product_query: str
    order_query: str


def warehouse_target(wh: psycopg.Connection) -> MarkerTarget:
    """This pipeline: a marker order has arrived once `dw.fact_orders` has its row."""
    return MarkerTarget("pipeline", wh, _LIVE_PRODUCT, _ORDER)


def await_row(
    target: MarkerTarget,
    query: str,
    params: tuple[int] | dict[str, object],
    timeout_s: float,
    what: str,
) -> None:
    """Poll the target every POLL_S until `query` finds a row for `params`."""
    deadline = time.perf_counter() + timeout_s
    while not target.conn.execute(query, params).fetchone():
        if time.perf_counter() > deadline:
            raise EtlError(
                f"{what} did not reach {target.name} within {timeout_s:.0f} s: "
                "`etl status` shows which component is behind"
            )
        time.sleep(POLL_S)


class LatencyProbe:
    """Marker orders (one line each, of the bench customer and product): each committed on the
    source and timed until its row is visible in the target.

    Used by `etl bench latency` and the peers' latency (idle in between) and by the Locust load
    test's end-to-end probes (under load). Takes open autocommit connections, so a caller under
    gevent passes connections made after the monkey-patching.
    """

    def __init__(self, src: psycopg.Connection, target: MarkerTarget, timeout_s: float) -> None:
        self.src, self.target, self.timeout_s = src, target, timeout_s
        self.customer = _ensure_row(src, _BENCH_CUSTOMER)
        self.product = _ensure_row(src, _BENCH_PRODUCT)
        # the product must be there first, or the first order would wait for it
        await_row(target, target.product_query, (self.product,), timeout_s, "the bench product")

    def commit_order(self) -> Marker:
        """Commit one marker order; return it once the COMMIT has returned."""
        with self.src.transaction():
            start = self.src.execute(
                "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint, now()"
            ).fetchone()
            assert start is not None
            row = self.src.execute(
                "INSERT INTO orders (customer_id, total_amount) VALUES (%s, 10.00)"
                " RETURNING order_id",
                (self.customer,),
            ).fetchone()
            assert row is not None
            self.src.execute(
                "INSERT INTO order_items (order_id, product_id, quantity, unit_price)"
                " VALUES (%s, %s, 1, 10.00)",
                (row[0], self.product),
            )
        return Marker(int(row[0]), int(start[0]), start[1])

    def measure(self) -> tuple[int, float]:
        """(order id, seconds from its COMMIT returning to its row being visible in the target)."""
        marker = self.commit_order()
        committed = time.perf_counter()
        await_row(
            self.target,
            self.target.order_query,
            vars(marker),
            self.timeout_s,
            f"order {marker.order_id}",
        )
        return marker.order_id, time.perf_counter() - committed


def time_marker_orders(
    src: psycopg.Connection,
    target: MarkerTarget,
    orders: int,
    idle_s: float,
    timeout_s: float,
    progress: Progress = no_progress,
) -> LatencyResult:
    """Commit `orders` lone orders on the source, each timed until the target has its row."""
    probe = LatencyProbe(src, target, timeout_s)
    samples: list[float] = []
    for n in range(orders):
        time.sleep(idle_s)  # let every hop go idle: the latency of a lone change
        samples.append(probe.measure()[1])
        progress(n + 1, orders)
    return LatencyResult(
        orders=len(samples),
        p50_s=round(percentile(samples, 0.50), 3),
        p95_s=round(percentile(samples, 0.95), 3),
        max_s=round(max(samples), 3),
        mean_s=round(statistics.fmean(samples), 3),
        idle_between_s=idle_s,
        samples_s=[round(s, 3) for s in samples],
    )


def bench_latency(
    settings: Settings,
    orders: int,
    *,
    idle_s: float = 1.0,
    timeout_s: float = 60.0,
    progress: Progress = no_progress,
) -> LatencyResult:
    """Commit single orders (one line each) and time each until its warehouse row exists."""
    with (
        psycopg.connect(settings.source_dsn(), autocommit=True) as src,
        psycopg.connect(settings.warehouse_dsn(), autocommit=True) as wh,
    ):
        return time_marker_orders(src, warehouse_target(wh), orders, idle_s, timeout_s, progress)


# --------------------------------------------------------------------------- burst


class HopTimes(BaseModel):
    """Seconds after the seed ended at which each hop had caught up (None: not reported).

    The transform's time is when its progress said so: in real-time mode progress is reported
    once per checkpoint interval, often after the warehouse already caught up (then None).
    """

    source_slot_s: float
    transform_s: float | None
    loader_s: float
    warehouse_equal_s: float


class BurstResult(BaseModel):
    orders: int
    change_events: int  # messages added to the CDC topics (Debezium's tombstones included)
    seed_s: float
    seed_orders_per_s: float
    drain_after_seed_s: float  # seed end -> warehouse equals source
    total_s: float
    orders_per_s: float  # end to end: seed start -> warehouse equals source
    events_per_s: float
    hops: HopTimes
    started_at: str


def _fingerprint(
    conn: psycopg.Connection, side: Callable[[psycopg.Connection, Entity], Side]
) -> list[tuple[int, str]]:
    """Per table (rows, hash sum): reconcile's tiers 1-2, enough to say "equal" or not."""
    return [(s.rows, s.hash_sum) for s in (side(conn, e).summary() for e in ENTITIES.values())]


def bench_burst(
    settings: Settings, orders: int, *, seed: int = 7, timeout_s: float = 600.0
) -> BurstResult:
    """Seed a burst of `orders`, then time every hop until the warehouse equals the source."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    topics = settings.cdc_topics()
    before = message_counts(settings, topics)
    t0 = time.monotonic()
    run_seed(settings.source_dsn(), SeedPlan(orders=orders, seed=seed))
    seed_end = time.monotonic()
    deadline = seed_end + timeout_s
    target = current_wal_lsn(settings)
    wait_for_slot(settings, target, timeout_s)
    slot_s = time.monotonic() - seed_end
    reports_transform = transform_lag(settings) is not None  # the local transform reports
    caught_up: dict[str, float] = {}
    with (
        psycopg.connect(settings.warehouse_dsn(), autocommit=True) as wh,
        psycopg.connect(settings.source_dsn(), autocommit=True) as src,
    ):
        for conn in (src, wh):
            conn.execute("SET TIME ZONE 'UTC'")
        source_state = _fingerprint(src, source_side)
        # Each hop is checked on every round, so one hop's reporting interval (the
        # transform's checkpoint interval in real-time mode) never delays another's time.
        while "warehouse" not in caught_up:
            now = time.monotonic() - seed_end
            if reports_transform and "transform" not in caught_up and not transform_lag(settings):
                caught_up["transform"] = now
            if "loader" not in caught_up and not curated_lag(settings, wh):
                caught_up["loader"] = now
            # the warehouse's hashes only once the loader has caught up: no load meanwhile
            if "loader" in caught_up and _fingerprint(wh, warehouse_side) == source_state:
                caught_up["warehouse"] = now
            elif time.monotonic() > deadline:
                raise EtlError(
                    f"the warehouse did not equal the source {timeout_s:.0f} s after the seed "
                    f"(caught up so far: {sorted(caught_up)}): `etl status` says which is behind"
                )
            else:
                time.sleep(0.05)
    transform_s = caught_up.get("transform")
    loader_s = caught_up["loader"]
    equal = seed_end + caught_up["warehouse"]
    after = message_counts(settings, topics)
    events = sum((after[t] or 0) - (before[t] or 0) for t in topics)
    total = equal - t0
    return BurstResult(
        orders=orders,
        change_events=events,
        seed_s=round(seed_end - t0, 2),
        seed_orders_per_s=round(orders / (seed_end - t0), 1),
        drain_after_seed_s=round(equal - seed_end, 2),
        total_s=round(total, 2),
        orders_per_s=round(orders / total, 1),
        events_per_s=round(events / total, 1),
        hops=HopTimes(
            source_slot_s=round(slot_s, 2),
            transform_s=None if transform_s is None else round(transform_s, 2),
            loader_s=round(loader_s, 2),
            warehouse_equal_s=round(equal - seed_end, 2),
        ),
        started_at=started_at,
    )
