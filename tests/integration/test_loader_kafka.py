"""The loader process against the real curated topics and warehouse of the test stack.

Crafted change records are produced onto the curated topics; `python -m loaders` runs as a
subprocess. Every test starts the warehouse empty with its stored offsets at the topics' current
ends (so records of earlier tests are not re-read) and uses its own consumer group.
"""

from __future__ import annotations

import json
import random
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from etl.settings import Settings
from etl.topics import high_watermarks as curated_watermarks
from etl.warehouse_db import DATA_TABLES, prepare_warehouse
from loaders.apply import sql_file
from tests.fixtures.loader import LoaderProcess, wait_until_sharing
from tests.fixtures.warehouse import loader_in_transaction
from tests.unit.loaders.records import WAREHOUSE_VERSIONS, change_history, expected_versions

pytestmark = pytest.mark.integration


def high_watermarks(settings: Settings) -> dict[tuple[str, int], int]:
    return curated_watermarks(settings, settings.curated_topics())


@pytest.fixture
def warehouse(stack: Settings) -> Iterator[psycopg.Connection]:
    """Empty warehouse whose stored offsets point at the current end of every curated partition."""
    prepare_warehouse(stack)
    with psycopg.connect(stack.warehouse_dsn(), autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(f"dw.{t}" for t in DATA_TABLES) + " RESTART IDENTITY")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dw.etl_offsets (topic, partition, next_offset) VALUES (%s, %s, %s)",
                [(t, p, o) for (t, p), o in high_watermarks(stack).items()],
            )
        yield conn


def produce(settings: Settings, records: list[dict[str, Any]]) -> None:
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
    for r in records:
        producer.produce(
            settings.curated_topic(r["entity"]),
            key=json.dumps(r["key"]).encode(),
            value=json.dumps(r).encode(),
        )
        producer.poll(0)
    assert producer.flush(30) == 0


def wait_until_loaded(
    conn: psycopg.Connection,
    settings: Settings,
    loaders: list[LoaderProcess],
    timeout_s: float = 120,
) -> None:
    """Poll until the stored offsets reach every curated partition's end (lag judged, not data)."""
    target = high_watermarks(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        stored = dict(
            ((t, p), o)
            for t, p, o in conn.execute(
                "SELECT topic, partition, next_offset FROM dw.etl_offsets"
            ).fetchall()
        )
        behind = {
            tp: end - stored.get(tp, 0) for tp, end in target.items() if stored.get(tp, 0) < end
        }
        if not behind:
            return
        for loader in loaders:
            loader.assert_running()
        assert time.monotonic() < deadline, f"loader still behind after {timeout_s} s: {behind}"
        time.sleep(0.2)


def assert_warehouse_matches(
    conn: psycopg.Connection, records: list[dict[str, Any]], messages: int
) -> None:
    expected = expected_versions(records)
    for entity, query in WAREHOUSE_VERSIONS.items():
        actual = {key: (version, deleted) for key, version, deleted in conn.execute(query)}
        assert actual == expected[entity], f"{entity} differs from the newest produced versions"
    assert conn.execute("SELECT count(*) FROM dw.dim_customer WHERE is_inferred").fetchone() == (0,)
    incremental = conn.execute(
        "SELECT date_key, country, orders, cancelled_orders, items, revenue"
        " FROM dw.agg_daily_sales_by_country ORDER BY date_key, country"
    ).fetchall()
    assert incremental == conn.execute(sql_file("recompute_daily_sales.sql")).fetchall()
    rows_in, applied = conn.execute(
        "SELECT sum(rows_in), sum(applied) FROM dw.etl_load_audit"
    ).fetchone() or (0, 0)
    assert rows_in == messages, "each produced message is in exactly one committed batch"
    assert applied == len({(r["entity"], r["version"]) for r in records}), "no double application"


def tmp_log(tmp_path: Path, name: str) -> Path:
    return tmp_path / f"{name}.log"


def test_loader_loads_produced_changes(
    stack: Settings, warehouse: psycopg.Connection, tmp_path: Path
) -> None:
    records = change_history(random.Random(11), orders=300)
    produce(stack, records)
    loader = LoaderProcess(f"it-{uuid.uuid4().hex[:8]}", 500, tmp_log(tmp_path, "loader"))
    try:
        wait_until_loaded(warehouse, stack, [loader])
        assert_warehouse_matches(warehouse, records, len(records))
    finally:
        assert loader.stop() == 0, "SIGTERM is a clean exit"
    messages = [line["msg"] for line in loader.log_lines()]
    assert "loader started" in messages and "loader stopped" in messages
    assert all(line["component"] == "loader" for line in loader.log_lines())
    progress = json.loads((stack.run_dir / "loader-progress.json").read_text())
    assert progress["totals"]["rows_in"] == len(records)


def test_kill_9_mid_batch_loses_nothing_and_applies_nothing_twice(
    stack: Settings, warehouse: psycopg.Connection, tmp_path: Path
) -> None:
    records = change_history(random.Random(12), orders=3000)
    produce(stack, records)
    group = f"it-{uuid.uuid4().hex[:8]}"
    kills = 0
    for attempt in range(3):
        loader = LoaderProcess(group, 400, tmp_log(tmp_path, f"loader-{attempt}"))
        if loader_in_transaction(warehouse, 30):
            loader.stop(signal.SIGKILL)
            kills += 1
        else:
            loader.stop()
            break
    assert kills >= 1, "never caught the loader inside a batch transaction"
    batches_before = warehouse.execute("SELECT count(*) FROM dw.etl_load_audit").fetchone()
    assert batches_before is not None

    final = LoaderProcess(group, 400, tmp_log(tmp_path, "loader-final"))
    try:
        wait_until_loaded(warehouse, stack, [final])
        assert_warehouse_matches(warehouse, records, len(records))
    finally:
        final.stop()
    assert (
        batches_before[0]
        < warehouse.execute("SELECT count(*) FROM dw.etl_load_audit").fetchone()[0]
    ), "the restart had work left"


def test_two_loaders_in_one_group_give_the_same_result(
    stack: Settings, warehouse: psycopg.Connection, tmp_path: Path
) -> None:
    records = change_history(random.Random(13), orders=2000)
    half = len(records) // 2
    group = f"it-{uuid.uuid4().hex[:8]}"
    first = LoaderProcess(group, 300, tmp_log(tmp_path, "loader-a"))
    second: LoaderProcess | None = None
    try:
        produce(stack, records[:half])
        second = LoaderProcess(group, 300, tmp_log(tmp_path, "loader-b"))  # rebalance mid-stream
        wait_until_sharing([first, second])  # else one loader may take the second half alone
        produce(stack, records[half:])
        wait_until_loaded(warehouse, stack, [first, second])
        assert_warehouse_matches(warehouse, records, len(records))
    finally:
        assert first.stop() == 0
        if second is not None:
            assert second.stop() == 0
    loaders_used = warehouse.execute(
        "SELECT count(DISTINCT loader_id) FROM dw.etl_load_audit"
    ).fetchone()
    assert loaders_used == (2,), "both loaders applied batches"
