"""How fast the transform job turns Debezium messages into curated records, end to end.

N Debezium-shaped messages (orders and order items, 1% invalid) are produced onto source-like
topics (`bench-<id>.public.*`) while a real `python -m jobs.transform` is running; the clock
runs from the first produce until the curated topics and the DLQ hold all N outputs. Printed
at the end of the run and kept in the benchmark's `extra_info`: records/s, the median micro-batch
duration (from the job's progress log), and the driver's peak RSS (the Spark JVM, `VmHWM`). No
timed assertion.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from etl.settings import Settings
from etl.tables import CAPTURED_TABLES
from etl.topics import ensure_topics, message_counts
from tests.benchmarks.figures import record_figures
from tests.integration.test_transform_stream import TransformJob, transform_job
from tests.unit.jobs.envelopes import envelope, row

pytestmark = pytest.mark.integration

MESSAGES = 20_000
INVALID_EVERY = 100


def messages(count: int) -> list[tuple[str, bytes, bytes]]:
    """(table, key, value): orders and their items, every INVALID_EVERY-th item invalid."""
    rng = random.Random(2026)
    out = []
    for n in range(count):
        lsn = 30_000_000 + n * 100
        if n % 2 == 0:
            data = row("orders", order_id=n, total_amount=f"{rng.randint(0, 99999) / 100:.2f}")
            table, key = "orders", {"order_id": n}
        else:
            quantity = 0 if n % INVALID_EVERY == 1 else rng.randint(1, 9)
            data = row("order_items", order_item_id=n, order_id=n - 1, quantity=quantity)
            table, key = "order_items", {"order_item_id": n}
        value = envelope(table, "c", after=data, lsn=lsn, tx_id=n)
        out.append((table, json.dumps(key).encode(), json.dumps(value).encode()))
    return out


def total_messages(settings: Settings, names: list[str]) -> int:
    return sum(count or 0 for count in message_counts(settings, names).values())


def jvm_peak_rss_mb(job: TransformJob) -> float:
    """Peak RSS of the Spark driver JVM, the job's child process."""
    assert job.proc is not None
    children = Path(f"/proc/{job.proc.pid}/task/{job.proc.pid}/children").read_text().split()
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        if "java" in Path(f"/proc/{pid}/comm").read_text():
            (line,) = [s for s in status.splitlines() if s.startswith("VmHWM:")]
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no JVM among the children {children} of {job.proc.pid}")


def batch_durations(job: TransformJob, after_batch: int, timeout_s: float = 180) -> list[int]:
    """triggerExecution of every batch with input from `after_batch` on, from the log.

    In real-time mode records are written long before their batch ends (a batch is one
    checkpoint interval), so this waits for the first such progress line.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        durations = []
        for line in job.log.read_text(errors="replace").splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            progress = record.get("progress")
            if progress and progress["numInputRows"] and progress["batchId"] >= after_batch:
                durations.append(progress["batchDurationMs"])
        if durations:
            return durations
        job.assert_alive()
        assert time.monotonic() < deadline, f"no progress lines in the log\n{job.log_tail()}"
        time.sleep(1)


@pytest.mark.benchmark(group="transform")
def test_transform_throughput(benchmark, stack: Settings) -> None:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    job = transform_job(stack, name)
    job.env["ETL_TOPIC_PREFIX"] = name
    settings = Settings(
        home=job.settings.home,
        topic_prefix=name,
        curated_topic_prefix=job.settings.curated_topic_prefix,
        dlq_topic_name=job.settings.dlq_topic_name,
    )
    job.settings = settings
    ensure_topics(settings, [settings.cdc_topic(t) for t in CAPTURED_TABLES])
    batch = messages(MESSAGES)
    outputs = [settings.dlq_topic, *(settings.curated_topic(t) for t in CAPTURED_TABLES)]
    job.start()
    try:
        before = job.wait_running()["batchId"] or 0  # None: the first batch runs

        def produce_and_drain() -> float:
            started = time.perf_counter()
            producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "linger.ms": 20})
            for table, key, value in batch:
                producer.produce(settings.cdc_topic(table), value, key)
                producer.poll(0)
            assert producer.flush(60) == 0
            deadline = time.monotonic() + 1200
            while total_messages(settings, outputs) < MESSAGES:
                job.assert_alive()
                assert time.monotonic() < deadline, job.log_tail()
                time.sleep(0.2)
            return time.perf_counter() - started

        seconds = benchmark.pedantic(produce_and_drain, rounds=1, iterations=1)
        assert total_messages(settings, [settings.dlq_topic]) == MESSAGES // INVALID_EVERY
        assert total_messages(settings, outputs) == MESSAGES, "an input became two outputs"
        durations = batch_durations(job, before)
        peak_rss_mb = jvm_peak_rss_mb(job)
        median_ms = statistics.median(durations)
        record_figures(
            benchmark,
            f"{MESSAGES} messages in {seconds:.1f} s = {MESSAGES / seconds:,.0f} records/s;"
            f" {len(durations)} batches, median {median_ms:,.0f} ms; driver JVM peak RSS"
            f" {peak_rss_mb:,.0f} MB",
            records=MESSAGES,
            records_per_s=MESSAGES / seconds,
            batches=len(durations),
            median_batch_ms=median_ms,
            driver_peak_rss_mb=peak_rss_mb,
        )
    finally:
        if job.proc and job.proc.poll() is None:
            job.terminate()
