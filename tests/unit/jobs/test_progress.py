"""The progress record `etl status` reads, built from a real Spark progress event's shape."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from pyspark import StatusTracker

from jobs.transform.progress import progress_summary, running_tasks

pytestmark = pytest.mark.unit

#: A Kafka-source progress event as `StreamingQuery.recentProgress` returns it (trimmed).
EVENT = {
    "id": uuid.UUID("643a3a0b-0000-4000-8000-000000000001"),  # pyspark gives ids as UUIDs
    "runId": uuid.UUID("d9c94c24-0000-4000-8000-000000000002"),
    "name": "transform",
    "timestamp": "2026-11-27T08:17:50.001Z",
    "batchId": 4,
    "numInputRows": 158,
    "inputRowsPerSecond": 7.9,
    "processedRowsPerSecond": 41.2,
    "durationMs": {"addBatch": 2094, "queryPlanning": 1384, "triggerExecution": 3834},
    "sources": [
        {
            "description": "KafkaV2[SubscribePattern[^cdc\\.public\\.orders$]]",
            "startOffset": '{"cdc.public.orders": {"0": 4, "1": 0}}',
            "endOffset": '{"cdc.public.orders": {"0": 10, "1": 3}}',
            "latestOffset": '{"cdc.public.orders": {"0": 12, "1": 3}}',
            "numInputRows": 9,
        },
        {
            "description": "KafkaV2[SubscribePattern[^cdc\\.public\\.customers$]]",
            "startOffset": "null",
            "endOffset": {"cdc.public.customers": {"0": 7}},
            "latestOffset": "null",
            "numInputRows": 7,
        },
    ],
    "observedMetrics": {"transform_output": {"curated": 15, "dlq": 1}},
}


def test_summary_fields():
    summary = progress_summary(EVENT).model_dump(mode="json", by_alias=True)
    assert summary["queryId"] == "643a3a0b-0000-4000-8000-000000000001"
    assert summary["runId"] == "d9c94c24-0000-4000-8000-000000000002" and summary["batchId"] == 4
    assert summary["batchDurationMs"] == 3834 and summary["numInputRows"] == 158
    assert summary["endOffsets"] == {
        "cdc.public.orders": {"0": 10, "1": 3},
        "cdc.public.customers": {"0": 7},
    }
    assert summary["backlog"] == 2
    assert summary["sources"][0]["latestOffset"] == {"cdc.public.orders": {"0": 12, "1": 3}}
    assert summary["sources"][1]["startOffset"] == {}
    assert summary["written"] == {"curated": 15, "dlq": 1}
    for field in ("timestamp", "inputRowsPerSecond", "processedRowsPerSecond", "durationMs"):
        assert summary[field] == EVENT[field]


def test_idle_trigger_has_no_written_counts():
    idle = {k: v for k, v in EVENT.items() if k != "observedMetrics"} | {"numInputRows": 0}
    assert progress_summary(idle).written is None


def running_in_active_stages(tracker: StatusTracker) -> int:
    stages = (tracker.getStageInfo(s) for s in tracker.getActiveStageIds())
    return sum(stage.numActiveTasks for stage in stages if stage is not None)


def test_running_tasks_sees_a_stage_only_once_all_its_tasks_run(spark, tmp_path):
    """A job of two tasks that each wait for a file: the stage counts once both run, and a stage
    with tasks still queued (three tasks on two slots) never does."""
    tracker = spark.sparkContext.statusTracker()
    assert running_tasks(tracker) is None
    release = tmp_path / "release"

    def wait_for_release(_: object) -> None:
        while not release.exists():
            time.sleep(0.05)

    def run(tasks: int) -> threading.Thread:
        rdd = spark.sparkContext.parallelize(range(tasks), tasks)
        thread = threading.Thread(target=rdd.foreach, args=(wait_for_release,))
        thread.start()
        return thread

    deadline = time.monotonic() + 120
    job = run(2)
    while (seen := running_tasks(tracker)) is None:
        assert time.monotonic() < deadline, "the two tasks never ran"
        time.sleep(0.1)
    assert seen == (2, 2)
    release.touch()
    job.join(120)
    release.unlink()
    queued = run(3)
    while (active := running_in_active_stages(tracker)) < 2:
        assert time.monotonic() < deadline, f"{active} of the three tasks run"
        time.sleep(0.1)
    assert running_tasks(tracker) is None  # two of three run, one waits for a slot
    release.touch()
    queued.join(120)
