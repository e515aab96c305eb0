"""Streaming progress -> one JSON line in the log and `run/transform-progress.json` (atomic).

`etl status` reads the file. Its shape is `etl.progress.TransformProgress`: Spark's own figures
under Spark's names plus end offsets, backlog and output counts (see that model).

The poller reads `query.recentProgress` rather than registering a JVM listener: no callback
server, and no event is missed between polls (Spark keeps the last 100).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pyspark import StatusTracker
from pyspark.sql.streaming import StreamingQuery

from etl.progress import TransformProgress
from etl.settings import Settings

log = logging.getLogger("jobs.transform.progress")

_SPARK_FIELDS = (
    "timestamp",
    "batchId",
    "numInputRows",
    "inputRowsPerSecond",
    "processedRowsPerSecond",
    "durationMs",
    "runId",
)
#: Name of the observed metrics holding the output counts (see `jobs.transform.job`).
OUTPUT_METRICS = "transform_output"


_OFFSET_FIELDS = ("startOffset", "endOffset", "latestOffset")


def _offsets(value: Any) -> dict[str, dict[str, int]]:
    """Spark gives Kafka offsets as a JSON object or as its text; both -> a dict."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _merge(sources: list[dict[str, Any]], field: str) -> dict[str, dict[str, int]]:
    merged: dict[str, dict[str, int]] = {}
    for source in sources:
        for topic, partitions in _offsets(source.get(field)).items():
            merged.setdefault(topic, {}).update(partitions)
    return merged


def progress_summary(progress: dict[str, Any]) -> TransformProgress:
    """The status record of one progress event (see `etl.progress.TransformProgress`)."""
    sources = [
        {**source, **{f: _offsets(source.get(f)) for f in _OFFSET_FIELDS}}
        for source in progress.get("sources", [])
    ]
    end, latest = _merge(sources, "endOffset"), _merge(sources, "latestOffset")
    backlog = sum(
        max(0, offset - end.get(topic, {}).get(partition, 0))
        for topic, partitions in latest.items()
        for partition, offset in partitions.items()
    )
    written = (progress.get("observedMetrics") or {}).get(OUTPUT_METRICS)
    if written is not None:  # a pyspark Row, or a dict once read back from JSON
        row = written.asDict() if hasattr(written, "asDict") else dict(written)
        written = {k: int(v) for k, v in row.items()}
    return TransformProgress.model_validate(
        {
            **{field: progress.get(field) for field in _SPARK_FIELDS},
            "queryId": progress.get("id"),
            "batchDurationMs": (progress.get("durationMs") or {}).get("triggerExecution"),
            "endOffsets": end,
            "backlog": backlog,
            "sources": sources,
            "written": written,
        }
    )


def running_tasks(tracker: StatusTracker) -> tuple[int, int] | None:
    """(running, total) tasks of the active stage whose tasks all run, else None.

    The query is this driver's only job, so a stage with every task running is its batch: in
    real-time mode, its long-running tasks read and write records as they arrive.
    """
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None and 0 < info.numTasks == info.numActiveTasks:
            return info.numActiveTasks, info.numTasks
    return None


class ProgressReporter:
    """Emits every progress event of a query once: a log line and the progress file.

    Before the first event of this run it also reports, once, that the first batch's tasks all
    run (`TransformProgress.status`): health and `etl up` need not wait a real-time checkpoint
    interval (30 s) for a job that already moves records.
    """

    def __init__(self, settings: Settings, tracker: StatusTracker) -> None:
        self.settings = settings
        self.tracker = tracker
        self._seen: set[tuple[Any, Any]] = set()
        self._started_reported = False

    def poll(self, query: StreamingQuery) -> None:
        """Cheap when nothing happened: one small Py4J call for the last event; the window of
        up to 100 events (each a JSON round trip) is fetched only when that one is new. Polling
        the window every time cost the idle stack 4% of a core."""
        last = query.lastProgress
        if last is None:
            self._report_started(query)
            return
        if (last.get("batchId"), last.get("timestamp")) in self._seen:
            return
        window = query.recentProgress
        for progress in window:
            ident = (progress.get("batchId"), progress.get("timestamp"))
            if ident in self._seen:
                continue
            summary = progress_summary(progress)
            log.info("progress", extra={"progress": summary.model_dump(mode="json", by_alias=True)})
            summary.write(self.settings)
        # Only events still in Spark's window can come back: remembering those is enough.
        self._seen = {(p.get("batchId"), p.get("timestamp")) for p in window}

    def _report_started(self, query: StreamingQuery) -> None:
        if self._started_reported:
            return
        tasks = running_tasks(self.tracker)
        if tasks is None:
            return
        previous = TransformProgress.read(self.settings)
        query_id = str(query.id)
        same_query = previous is not None and previous.query_id == query_id
        started = TransformProgress(
            timestamp=datetime.now(UTC).isoformat(timespec="milliseconds"),
            query_id=query_id,
            run_id=str(query.runId),
            end_offsets=previous.end_offsets if previous and same_query else {},
            backlog=previous.backlog if previous and same_query else 0,
            status=f"first batch running ({tasks[0]}/{tasks[1]} tasks)",
        )
        log.info("first batch running", extra={"tasks": tasks[1]})
        started.write(self.settings)
        self._started_reported = True
