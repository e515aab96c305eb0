"""The chaos suite's instruments: a steady shop load, a record of every committed source change
taken independently of the pipeline, the checks against the warehouse, the figures.

- `SteadyLoad`: a thread writing the shop mix (`app.seed`, the same statements as `etl seed`
  and Locust) at a fixed rate of orders per second; a write the source refuses (it is being
  restarted) is retried on the next tick, as a shop would.
- `ChangeLog`: a second logical replication slot on the source with PostgreSQL's own
  `test_decoding` plugin, not Debezium's pgoutput. Logical decoding emits exactly the committed
  (and flushed: the log waits for the flush) transactions, each row change with its WAL
  position: the same LSN the pipeline carries as a change's `version` (Debezium's `source.lsn`).
  Per (table, key) the log keeps the newest change: its LSN and whether it was a delete.
- `warehouse_versions` / `count_missing`: the warehouse's row of each key (the current version
  of a dimension member, the fact row) must carry exactly that version and deleted flag.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from app.seed import SeedPlan, run_seed
from etl.settings import Settings
from loaders.entities import ENTITIES

#: (table, key) -> (LSN of its newest committed change, that change was a delete)
Expected = dict[tuple[str, int], tuple[int, bool]]

_CHANGE = re.compile(r"^table [^.]+\.(\w+): (INSERT|UPDATE|DELETE):(.*)$", re.DOTALL)


class SteadyLoad:
    """`orders_per_s` new orders every second, each tick a small `etl seed` run (checkouts,
    status changes, cancellations, item edits, deletes, customer moves, price changes)."""

    def __init__(self, dsn: str, orders_per_s: int, seed: int) -> None:
        self.dsn, self.orders_per_s, self.seed = dsn, orders_per_s, seed
        self.orders = 0
        self.refused = 0  # ticks the source refused (it was down)
        self.stop_at = float("inf")  # time.monotonic() at which it stops by itself
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _run(self) -> None:
        tick, next_at = 0, time.monotonic()
        while not self._stop.is_set() and time.monotonic() < self.stop_at:
            try:
                plan = SeedPlan(orders=self.orders_per_s, seed=self.seed * 100_000 + tick)
                self.orders += run_seed(self.dsn, plan)["orders"]
            except psycopg.Error:
                self.refused += 1
            tick += 1
            next_at += 1.0
            self._stop.wait(max(0.0, next_at - time.monotonic()))


def lsn_int(lsn: str) -> int:
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


class ChangeLog:
    """Every committed change of the captured tables, read from a `test_decoding` slot."""

    def __init__(self, settings: Settings, slot: str) -> None:
        self.dsn, self.slot = settings.source_dsn(), slot
        self.newest: Expected = {}
        self.events: set[tuple[str, int]] = set()  # (table, LSN) of each change since reset()
        self.keys = {
            name: re.compile(rf"\b{e.key}\[[^\]]+\]:(-?\d+)") for name, e in ENTITIES.items()
        }

    def reset(self) -> None:
        """Forget the events counted so far (`newest` stays: it is the truth per key)."""
        self.events.clear()

    def create(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (self.slot,)
            )

    def drop(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = %s",
                (self.slot,),
            )

    def read(self, upto_lsn: int | None = None, retry_s: float = 120) -> None:
        """Consume the slot's changes (up to `upto_lsn`) into `newest`; retries while the
        source is down."""
        upto = None if upto_lsn is None else f"{upto_lsn >> 32:X}/{upto_lsn & 0xFFFFFFFF:X}"
        deadline = time.monotonic() + retry_s
        while True:
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    wait_for_wal_flush(conn)
                    rows = conn.execute(
                        "SELECT lsn::text, data FROM pg_logical_slot_get_changes("
                        "%s, %s::pg_lsn, NULL, 'include-xids', '0', 'skip-empty-xacts', '1')",
                        (self.slot, upto),
                    ).fetchall()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        for lsn, data in rows:
            self._note(lsn_int(lsn), data)

    def _note(self, lsn: int, data: str) -> None:
        match = _CHANGE.match(data)
        if not match or match.group(1) not in self.keys:
            return  # BEGIN/COMMIT, the heartbeat table
        table, op, rest = match.groups()
        if "new-tuple:" in rest:  # an update of a REPLICA IDENTITY FULL table: old, then new
            rest = rest.split("new-tuple:", 1)[1]
        found = self.keys[table].search(rest)
        assert found, f"no key in change {data!r}"
        key = (table, int(found.group(1)))
        self.events.add((table, lsn))  # a set: a re-read transaction counts once
        if lsn >= self.newest.get(key, (-1, False))[0]:
            self.newest[key] = (lsn, op == "DELETE")

    def in_flight(self, marks: dict[str, int], at: int) -> int:
        """Changes since reset() committed at or before `at`, newer than what the warehouse
        held of their table then (`marks`: `applied_watermarks`)."""
        return sum(1 for table, lsn in self.events if marks[table] < lsn <= at)


def wait_for_wal_flush(conn: psycopg.Connection, timeout_s: float = 30) -> None:
    """Until the WAL inserted so far is flushed. The load commits with `synchronous_commit=off`
    (as `etl seed` does): logical decoding sees a commit only once the WAL writer flushed it
    (within a few hundred ms), so a read right after the load would miss the last commits.
    The insert position, not `pg_current_wal_lsn()` (the write position, which such a commit
    may not have reached yet)."""
    row = conn.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
    assert row is not None
    deadline = time.monotonic() + timeout_s
    query = "SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn"
    while True:
        flushed = conn.execute(query, (row[0],)).fetchone()
        if flushed and flushed[0]:
            return
        # a change log read before the flush would miss commits and weaken the lost check
        assert time.monotonic() < deadline, f"WAL not flushed to {row[0]} in {timeout_s} s"
        time.sleep(0.05)


def _current_rows(entity_name: str) -> str:
    entity = ENTITIES[entity_name]
    current = " AND is_current" if entity.target.startswith("dw.dim_") else ""
    return (
        f"SELECT {entity.key}, version, is_deleted FROM {entity.target}"
        f" WHERE {entity.key} = ANY(%s){current}"
    )


def warehouse_versions(conn: psycopg.Connection, keys: list[tuple[str, int]]) -> Expected:
    """The warehouse's (version, deleted) of each key (the current row of a dimension)."""
    found: Expected = {}
    for table in ENTITIES:
        wanted = [k for t, k in keys if t == table]
        if wanted:
            for key, version, deleted in conn.execute(_current_rows(table), (wanted,)):
                found[(table, key)] = (version, deleted)
    return found


def missing_changes(
    conn: psycopg.Connection, expected: Expected, exact: bool
) -> dict[tuple[str, int], tuple[tuple[int, bool], tuple[int, bool] | None]]:
    """Keys whose newest source change the warehouse does not hold, with (source, warehouse)
    (version, deleted): `exact`, the warehouse's must be the source's; else at least that
    version (later changes may have arrived already)."""
    held = warehouse_versions(conn, list(expected))
    missing = {}
    for key, (lsn, deleted) in expected.items():
        found = held.get(key)
        version, is_deleted = found or (-1, False)
        ok = (version, is_deleted) == (lsn, deleted) if exact else version >= lsn
        if not ok:
            missing[key] = ((lsn, deleted), found)
    return missing


def applied_watermarks(settings: Settings) -> dict[str, int]:
    """Per table, the newest version the warehouse holds."""
    with psycopg.connect(settings.warehouse_dsn(), connect_timeout=5) as conn:
        marks = {}
        for table, entity in ENTITIES.items():
            row = conn.execute(f"SELECT coalesce(max(version), 0) FROM {entity.target}").fetchone()
            marks[table] = int(row[0]) if row else 0
        return marks


@dataclass
class ChaosFigures:
    scenario: str
    recovery_s: float
    in_flight: int
    lost: int
    duplicated: int
    orders: int
    changes: int

    def line(self) -> str:
        return (
            f"chaos {self.scenario}: recovery {self.recovery_s:.1f} s, in flight "
            f"{self.in_flight} events, lost {self.lost}, duplicated {self.duplicated}"
        )

    def append_to(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            handle.write(json.dumps({**asdict(self), "at": time.time()}) + "\n")


def figures_table(rows: list[ChaosFigures]) -> str:
    head = f"{'scenario':<24} {'recovery s':>10} {'in flight':>10} {'lost':>6} {'duplicated':>10}"
    lines = [head, "-" * len(head)]
    lines += [
        f"{r.scenario:<24} {r.recovery_s:>10.1f} {r.in_flight:>10} {r.lost:>6} {r.duplicated:>10}"
        for r in rows
    ]
    return "\n".join(lines)
