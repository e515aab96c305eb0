"""Chaos: faults injected into the running pipeline under a steady shop load.

Each scenario starts from a quiet, drained pipeline whose warehouse reconciles with the source,
runs `SteadyLoad` (LOAD_ORDERS_PER_S orders/s of the shop mix) for LOAD_BEFORE_S, injects its
fault, keeps the load running LOAD_AFTER_S past the moment recovery starts (then it stops by
itself, whether the pipeline has recovered or not), and then checks:

- the fault was real: supervisord restarted the killed process (`Supervisor.restarts`);
- the pipeline drains and `etl reconcile` matches (counts, sums, per-key hashes, summaries);
- lost 0 (independent of the pipeline and of reconcile's code): a second logical slot with
  PostgreSQL's `test_decoding` plugin records every committed source change with its LSN
  (`harness.ChangeLog`); every key ever changed during the suite must be in the warehouse with
  the LSN of its newest change as `version` and the same deleted flag. `lost` counts the keys
  that are not, once the warehouse stopped moving (or RECOVERY_TIMEOUT_S passed);
- duplicated 0: the loader's committed batches (`dw.etl_load_audit`) since the scenario began
  cover the curated offsets from where they stood to where they end with neither overlap nor
  gap (`tests.fixtures.warehouse.offset_coverage`); `duplicated` counts messages in two batches.

Figures (one line per scenario, appended as JSON to `$ETL_HOME/chaos/results.jsonl`, or to
`ETL_CHAOS_RESULTS`; the table of all of them ends the pytest run):

- recovery time: from the moment recovery can start (the kill; for the stopped pipeline the
  `etl up`) until the warehouse holds every change committed up to that moment (each key at
  least at its newest version as of then) and also a change committed after it (the pipeline
  flows end to end again). Polled every 0.5 s while the load still runs.
- in flight: change events committed up to that moment that were not yet applied then, counted
  from the change log: events above their table's newest applied version in the warehouse (a
  per-table watermark, so a slightly low count when partitions progress unevenly).

Scenarios: kill -9 of the Kafka broker, the Connect worker, the Spark driver (the transform's
whole process group: the Python driver and its JVM) and a loader; an immediate-mode restart of
each database (SIGQUIT to the postmaster, which is what `pg_ctl stop -m immediate` sends:
no checkpoint, crash recovery on start; supervisord starts it again); and the pipeline's
processes stopped for STOPPED_S while the source keeps writing, during which `etl status` must
warn about the replication slot's lag, then `etl up`.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from app.compare import restart_pipeline, stop_pipeline
from etl.settings import Settings
from etl.source_db import current_wal_lsn
from infra.local.supervisor import Supervisor
from tests.chaos.harness import (
    ChangeLog,
    ChaosFigures,
    SteadyLoad,
    applied_watermarks,
    lsn_int,
    missing_changes,
)
from tests.fixtures.stack import etl_cli
from tests.fixtures.warehouse import (
    curated_ends,
    describe,
    last_batch_id,
    offset_coverage,
    rebuild_warehouse,
    reconcile_json,
)

pytestmark = pytest.mark.chaos

LOAD_ORDERS_PER_S = 20
#: not a whole number: the load writes a tick's orders at the start of each second, so the fault
#: falls while they are on their way through the pipeline
LOAD_BEFORE_S = 10.4
LOAD_AFTER_S = 10.0
#: how long the pipeline stays stopped while the source keeps writing: 30 s leaves about 5,600
#: events in flight; 60 s (until 2026-11-29) tested the same path and cost CI 40 s more
STOPPED_S = 30.0
RECOVERY_TIMEOUT_S = 300.0
CHECK_SLOT = "etl_chaos_check"

#: Every scenario's figures, for the summary table (tests/chaos/conftest.py).
RESULTS: list[ChaosFigures] = []


def results_path(settings: Settings) -> Path:
    return Path(os.environ.get("ETL_CHAOS_RESULTS") or settings.home / "chaos" / "results.jsonl")


@pytest.fixture(scope="module")
def chaos(pipeline: Settings) -> Iterator[tuple[Settings, ChangeLog]]:
    """The whole pipeline running on a warehouse equal to the source (rebuilt from the CDC
    topics if earlier tests left crafted records), and the independent change log."""
    etl_cli("up")
    code, _ = reconcile_json()
    if code != 0:
        rebuild_warehouse(pipeline)
    log = ChangeLog(pipeline, CHECK_SLOT)
    log.drop()  # a leftover of an interrupted run
    log.create()
    try:
        yield pipeline, log
    finally:
        log.drop()  # a forgotten slot would hold WAL for ever


class Scenario:
    """One fault under load (module docstring): `with Scenario(...) as run:` starts from a
    quiet pipeline and starts the load; the test injects its fault, calling `recovery_starts()`
    at the moment the pipeline can begin to recover; `finish()` measures and checks."""

    def __init__(self, settings: Settings, log: ChangeLog, name: str, victim: str | None) -> None:
        self.settings, self.log, self.name, self.victim = settings, log, name, victim
        self.sup = Supervisor(settings)

    def __enter__(self) -> Scenario:
        etl_cli("up")  # whatever an earlier scenario restarted is healthy again
        code, result = reconcile_json()
        assert code == 0 and result["match"], f"not quiet before {self.name}: {describe(result)}"
        self.log.read()
        self.log.reset()
        with psycopg.connect(self.settings.warehouse_dsn()) as conn:
            self.after_batch = last_batch_id(conn)
        self.start_offsets = curated_ends(self.settings)
        self.restarts = self.sup.restarts(self.victim) if self.victim else 0
        self.load = SteadyLoad(
            self.settings.source_dsn(), LOAD_ORDERS_PER_S, seed=len(RESULTS) + 1
        ).__enter__()
        time.sleep(LOAD_BEFORE_S)
        return self

    def __exit__(self, *_: object) -> None:
        self.load.stop()

    def recovery_starts(self) -> None:
        self.marks = applied_watermarks(self.settings)
        self.at = lsn_int(current_wal_lsn(self.settings))
        self.t0 = time.monotonic()
        self.load.stop_at = self.t0 + LOAD_AFTER_S

    def _missing(self, exact: bool) -> dict | None:
        try:
            with psycopg.connect(self.settings.warehouse_dsn(), connect_timeout=5) as conn:
                return missing_changes(conn, self.log.newest, exact)
        except psycopg.OperationalError:
            return None  # the warehouse is down: missing, as far as anyone can tell

    def _wait_until_held(self, exact: bool) -> int:
        """Poll until the warehouse holds every change in the log; how many keys are still
        missing (-1: the warehouse did not answer), the first few printed."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while (missing := self._missing(exact)) != {} and time.monotonic() < deadline:
            time.sleep(0.5)
        if missing:
            print(f"\n{self.name}: not in the warehouse (source, warehouse):", end=" ")
            print(dict(list(missing.items())[:10]))
        return -1 if missing is None else len(missing)

    def _wait_until_newer_than(self, lsn: int) -> bool:
        """Poll until the warehouse holds a change committed after `lsn` (the load goes on)."""
        deadline = time.monotonic() + RECOVERY_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if max(applied_watermarks(self.settings).values()) > lsn:
                    return True
            except psycopg.OperationalError:
                pass  # the warehouse is down
            time.sleep(0.5)
        return False

    def finish(self) -> ChaosFigures:
        self.log.read(self.at)  # the log holds the changes up to the recovery start only
        in_flight = self.log.in_flight(self.marks, self.at)
        missing_then = self._wait_until_held(exact=False)
        resumed = self._wait_until_newer_than(self.at)
        recovery_s = time.monotonic() - self.t0
        assert missing_then == 0, f"{self.name}: {missing_then} keys never caught up"
        assert resumed, f"{self.name}: no change committed after the fault reached the warehouse"
        self.load.stop()
        self.log.read()
        changes = len(self.log.events)
        lost = self._wait_until_held(exact=True)
        code, result = reconcile_json()
        with psycopg.connect(self.settings.warehouse_dsn()) as conn:
            coverage = offset_coverage(
                conn, self.start_offsets, curated_ends(self.settings), self.after_batch
            )
        figures = ChaosFigures(
            scenario=self.name,
            recovery_s=round(recovery_s, 1),
            in_flight=in_flight,
            lost=lost,
            duplicated=coverage.overlapping,
            orders=self.load.orders,
            changes=changes,
        )
        print(f"\n{figures.line()} ({figures.orders} orders, {changes} changes)")
        figures.append_to(results_path(self.settings))
        RESULTS.append(figures)
        assert lost == 0, f"{self.name}: {lost} keys not at their newest source version"
        assert code == 0 and result["match"], f"{self.name}: {describe(result)}"
        assert coverage.exactly_once, f"{self.name}: {coverage}"
        if self.victim:
            assert self.sup.restarts(self.victim) > self.restarts, f"{self.victim} not restarted"
        return figures


def kill9(settings: Settings, name: str) -> None:
    """SIGKILL the program's whole process group (supervisord gives each its own): a JVM, or
    the transform's Python driver together with its Spark JVM."""
    pid = Supervisor(settings).info(name)["pid"]
    assert pid, f"{name} is not running"
    os.killpg(os.getpgid(pid), signal.SIGKILL)


def immediate_restart(settings: Settings, name: str) -> None:
    """`pg_ctl stop -m immediate` (SIGQUIT to the postmaster); supervisord starts it again."""
    pid = Supervisor(settings).info(name)["pid"]
    assert pid, f"{name} is not running"
    os.kill(pid, signal.SIGQUIT)


FAULTS: dict[str, tuple[str, Callable[[Settings, str], None]]] = {
    "kafka-kill9": ("kafka", kill9),
    "connect-kill9": ("connect", kill9),
    "spark-driver-kill9": ("transform", kill9),
    "loader-kill9": ("loader", kill9),
    "source-db-restart": ("source-db", immediate_restart),
    "warehouse-db-restart": ("warehouse-db", immediate_restart),
}


@pytest.mark.parametrize("scenario", list(FAULTS))
def test_a_crash_under_load_loses_nothing_and_applies_nothing_twice(chaos, scenario):
    settings, log = chaos
    victim, inject = FAULTS[scenario]
    with Scenario(settings, log, scenario, victim) as run:
        run.recovery_starts()
        inject(settings, victim)
        run.finish()


def test_a_stopped_pipeline_warns_about_slot_lag_then_catches_up(chaos):
    settings, log = chaos
    with Scenario(settings, log, f"pipeline-stopped-{STOPPED_S:.0f}s", victim=None) as run:
        stop_pipeline(settings)
        time.sleep(STOPPED_S)  # the source keeps writing
        status = etl_cli("status", "--json", check=False)
        slot = json.loads(status.stdout)["replication_slot"]
        assert status.returncode == 1 and slot["active"] is False, slot
        assert slot["warning"] and settings.slot_name in slot["warning"], slot
        assert str(slot["retained_bytes"]) in slot["warning"] and slot["behind_bytes"] > 0, slot
        table = etl_cli("status", check=False).stdout
        assert f"warning: replication slot {settings.slot_name} is not being read" in table
        run.recovery_starts()
        restart_pipeline(settings, say=print)  # what `etl up` runs, retried while it catches up
        run.finish()
