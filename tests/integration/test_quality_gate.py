"""The loader's quality gate on the test stack: a failed run is recorded and loading goes on.

`python -m loaders` runs as a subprocess with the gate after every batch; the warehouse is
corrupted (a daily summary no longer equals its facts) after a first load, then more orders
are produced: the gate's run records the failure in `dw.quality_results`, and the loader keeps
applying every new change.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from etl.settings import Settings
from tests.fixtures.loader import LoaderProcess
from tests.integration.test_loader_kafka import (  # noqa: F401 - `warehouse` is a fixture
    produce,
    wait_until_loaded,
    warehouse,
)
from tests.unit.loaders.records import change_history, item, order

pytestmark = pytest.mark.integration


def gate_failures(conn: psycopg.Connection, since: datetime) -> list[tuple[str, int]]:
    return conn.execute(
        "SELECT suite, critical_failed FROM dw.quality_results"
        " WHERE trigger = 'gate' AND started_at >= %s AND NOT success ORDER BY suite",
        (since,),
    ).fetchall()


def new_orders(first: int, count: int) -> list[dict]:
    """Orders (with one line each) of keys and versions no earlier record used."""
    records = []
    for n in range(first, first + count):
        records.append(order(n, n, cid=1, total="20.00", day="2026-01-02"))
        records.append(item(10 * n, n, oid=n, pid=1, qty=2))
    return records


def test_gate_records_a_failure_and_loading_goes_on(
    stack: Settings,
    warehouse: psycopg.Connection,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = datetime.now(UTC)
    monkeypatch.setenv("ETL_QUALITY_GATE_EVERY_BATCHES", "1")
    history = change_history(random.Random(21), orders=40)
    produce(stack, history)
    loader = LoaderProcess(f"gate-{uuid.uuid4().hex[:8]}", 20, tmp_path / "loader.log")
    try:
        wait_until_loaded(warehouse, stack, [loader])
        warehouse.execute(
            "UPDATE dw.agg_daily_sales SET revenue = revenue + 1"
            " WHERE date_key = (SELECT min(date_key) FROM dw.agg_daily_sales)"
        )
        produce(stack, new_orders(100_000, 5))
        deadline, key = time.monotonic() + 120, 200_000
        # a run started before the corruption passes; each new batch may start the next run
        while not gate_failures(warehouse, started):
            loader.assert_running()
            assert time.monotonic() < deadline, "no failed gate run recorded within 120 s"
            key += 1
            produce(stack, new_orders(key, 1))
            wait_until_loaded(warehouse, stack, [loader])
            time.sleep(1)
        assert ("agg_daily_sales", 1) in gate_failures(warehouse, started)
        later = new_orders(900_000, 10)
        produce(stack, later)
        wait_until_loaded(warehouse, stack, [loader])
        loaded = warehouse.execute(
            "SELECT count(*) FROM dw.fact_orders WHERE order_id >= 900000"
        ).fetchone()
        assert loaded == (10,), "the loader keeps loading after a failed gate"
        deadline = time.monotonic() + 30  # the loader picks a run's outcome up between batches
        while not any(m.startswith("quality gate failed") for m in log_messages(loader)):
            assert time.monotonic() < deadline, log_messages(loader)[-20:]
            time.sleep(0.5)
        assert loader.proc.poll() is None
    finally:
        assert loader.stop() == 0
    assert "quality gate started" in log_messages(loader)


def log_messages(loader: LoaderProcess) -> list[str]:
    return [line["msg"] for line in loader.log_lines()]


def wait_for_gate_idle(loader: LoaderProcess, timeout_s: float = 60) -> None:
    """Until every gate run the loader started has ended (by its log)."""
    deadline = time.monotonic() + timeout_s
    while True:
        messages = log_messages(loader)
        started = messages.count("quality gate started")
        ended = sum(
            m.startswith(("quality gate passed", "quality gate failed", "quality gate could"))
            for m in messages
        )
        if started == ended:
            return
        assert time.monotonic() < deadline, messages[-20:]
        time.sleep(0.5)


def test_gate_configured_to_pause_holds_loading_until_a_run_passes(
    stack: Settings,
    warehouse: psycopg.Connection,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ETL_QUALITY_GATE_EVERY_BATCHES", "1")
    monkeypatch.setenv("ETL_QUALITY_GATE_PAUSE", "true")
    produce(stack, change_history(random.Random(22), orders=20))
    loader = LoaderProcess(f"pause-{uuid.uuid4().hex[:8]}", 500, tmp_path / "loader.log")
    corrupt = (
        "UPDATE dw.agg_daily_sales SET revenue = revenue {} 1"
        " WHERE date_key = (SELECT min(date_key) FROM dw.agg_daily_sales)"
    )
    try:
        wait_until_loaded(warehouse, stack, [loader])
        wait_for_gate_idle(loader)  # a run started before the corruption would pass
        warehouse.execute(corrupt.format("+"))
        produce(stack, new_orders(300_000, 1))  # a batch: the next gate run fails
        deadline = time.monotonic() + 120
        while "loading paused by the quality gate (ETL_QUALITY_GATE_PAUSE)" not in log_messages(
            loader
        ):
            assert time.monotonic() < deadline, log_messages(loader)[-20:]
            time.sleep(0.5)
        produce(stack, new_orders(310_000, 5))
        time.sleep(3)
        held = warehouse.execute(
            "SELECT count(*) FROM dw.fact_orders WHERE order_id >= 310000"
        ).fetchone()
        assert held == (0,), "nothing is applied while the gate holds loading"
        warehouse.execute(corrupt.format("-"))  # repaired: the periodic re-run passes
        wait_until_loaded(warehouse, stack, [loader], timeout_s=180)
        loaded = warehouse.execute(
            "SELECT count(*) FROM dw.fact_orders WHERE order_id >= 310000"
        ).fetchone()
        assert loaded == (5,), "loading resumes from where it stopped, nothing lost"
    finally:
        assert loader.stop() == 0
    assert "loading resumed: the quality gate passed" in log_messages(loader)
