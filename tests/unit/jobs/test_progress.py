"""The progress record `etl status` reads, built from a real Spark progress event's shape."""

from __future__ import annotations

import uuid

import pytest

from jobs.transform.progress import progress_summary

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
