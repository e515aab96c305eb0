"""How fast the loader applies change records, next to the physical ceiling on the same database.

100k curated change records (a shop history: customers moving, orders progressing, lines
edited, deletes) are applied through the real path (parse -> COPY into staging -> one
transaction per batch of ETL_LOADER_BATCH_SIZE, default 5000): that is what pytest-benchmark
times. In the same test, so the ratio always comes from one run, the same staged rows are
COPYed into plain unindexed tables (the ceiling: no upsert, no SCD2, no summaries), as many
rounds. Each rate is the best round's; both and their ratio go into the benchmark's
`extra_info` and are printed at the end of the run. No timed assertion. Runs on the loader
tests' throwaway PostgreSQL cluster (same server settings as the `etl up` warehouse).
"""

from __future__ import annotations

import json
import random
import time

import psycopg
import pytest

from etl.settings import Settings
from etl.warehouse_db import DATA_TABLES
from loaders.apply import apply_batch, connect_for_apply, copy_into_staging
from loaders.batch import ChangeBatch
from loaders.entities import ENTITIES, META_COLUMNS
from tests.benchmarks.figures import record_figures
from tests.unit.loaders.records import change_history

RECORDS = 100_000
ROUNDS = 2


@pytest.fixture(scope="module")
def messages() -> list[tuple[str, bytes]]:
    rng = random.Random(2026)
    records = change_history(rng, orders=RECORDS // 4, customers=2000, products=200)[:RECORDS]
    return [(f"curated.{r['entity']}", json.dumps(r).encode()) for r in records]


def batches_of(messages: list[tuple[str, bytes]], size: int) -> list[ChangeBatch]:
    batches = []
    for start in range(0, len(messages), size):
        batch = ChangeBatch()
        for offset, (topic, value) in enumerate(messages[start : start + size], start=start):
            batch.add(topic, 0, offset, value)
        batches.append(batch)
    return batches


def timed_apply(benchmark, dsn: str, messages: list[tuple[str, bytes]]) -> float:
    """The real path, ROUNDS times from empty tables; returns the best round's seconds."""
    size = Settings().loader_batch_size
    with connect_for_apply(dsn, "benchmark") as conn:

        def empty() -> None:
            # TRUNCATE leaves the tables "never analyzed", like a freshly migrated warehouse
            # (an ANALYZE of the empty tables would make the planner expect them to stay empty
            # until autovacuum's next visit, which is not what a running loader sees)
            conn.execute(
                "TRUNCATE " + ", ".join(f"dw.{t}" for t in DATA_TABLES) + " RESTART IDENTITY"
            )

        def apply_all() -> None:
            expected: dict[tuple[str, int], int | None] = {}
            for batch in batches_of(messages, size):  # parsing is part of the loader's work
                result = apply_batch(
                    conn, batch, {tp: expected.get(tp) for tp in batch.offsets}, "benchmark"
                )
                expected.update(result.end_offsets)

        benchmark.pedantic(apply_all, setup=empty, rounds=ROUNDS, iterations=1)
        applied = conn.execute("SELECT sum(applied) FROM dw.etl_load_audit").fetchone()
        assert applied == (len(messages),), "the last round did not apply every record"
    return float(benchmark.stats["min"])


def timed_raw_copy(dsn: str, messages: list[tuple[str, bytes]]) -> float:
    """COPY of the same staged rows into plain tables, ROUNDS times; the best round's seconds."""
    (batch,) = batches_of(messages, len(messages))
    with psycopg.connect(dsn, autocommit=True) as conn:
        for entity in ENTITIES.values():  # plain tables shaped like staging, no index
            columns = [*META_COLUMNS, (entity.key, "bigint"), *entity.columns]
            conn.execute(f"DROP TABLE IF EXISTS public.{entity.staging_table}")
            conn.execute(
                f"CREATE TABLE public.{entity.staging_table} ("
                + ", ".join(f"{n} {t}" for n, t in columns)
                + ")"
            )
        conn.execute("SET search_path = public")  # COPY targets the plain tables, not temp ones
        rounds = []
        for _ in range(ROUNDS):
            conn.execute(
                "TRUNCATE " + ", ".join(f"public.{e.staging_table}" for e in ENTITIES.values())
            )
            started = time.perf_counter()
            with conn.transaction():
                copy_into_staging(conn, batch)
            rounds.append(time.perf_counter() - started)
        copied = conn.execute("SELECT count(*) FROM public.stg_orders").fetchone()
        assert copied == (len(batch.rows["orders"]),), "the COPY did not write every order row"
    return min(rounds)


@pytest.mark.benchmark(group="loader")
def test_apply_against_raw_copy(
    benchmark, warehouse_settings: Settings, messages: list[tuple[str, bytes]]
) -> None:
    dsn = warehouse_settings.warehouse_dsn()
    apply_s = timed_apply(benchmark, dsn, messages)
    copy_s = timed_raw_copy(dsn, messages)
    rows = len(messages)
    record_figures(
        benchmark,
        f"{rows} rows, apply {apply_s:.2f} s = {rows / apply_s:,.0f} rows/s, raw COPY"
        f" {copy_s:.2f} s = {rows / copy_s:,.0f} rows/s: apply runs at {copy_s / apply_s:.0%}"
        " of the raw COPY ceiling",
        rows=rows,
        apply_rows_per_s=rows / apply_s,
        raw_copy_rows_per_s=rows / copy_s,
        apply_to_copy_ratio=copy_s / apply_s,
    )
