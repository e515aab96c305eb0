import os
import time

import pytest

from etl.health import probe_progress
from etl.progress import LoaderLag, LoaderProgress, LoaderTotals, ProgressFile, TransformProgress
from etl.settings import Settings

pytestmark = pytest.mark.unit


def write(settings: Settings, progress: ProgressFile, age_s: float = 0) -> None:
    path = progress.write(settings)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))


def test_fresh_transform_progress_is_healthy_and_carries_offsets(tmp_path):
    s = Settings(home=tmp_path)
    offsets = {"cdc.public.orders": {0: 12, 1: 7}}
    write(
        s,
        TransformProgress(
            batch_id=4, duration_ms={"triggerExecution": 250}, end_offsets=offsets, backlog=0
        ),
    )
    probe = probe_progress(s, TransformProgress)
    assert probe.healthy
    assert probe.detail == "batchId=4, durationMs=250, backlog=0"
    assert probe.extra["progress"]["endOffsets"] == offsets


def test_loader_counters_are_flattened(tmp_path):
    s = Settings(home=tmp_path)
    progress = LoaderProgress(
        ts="2026-11-28T00:00:00.000+00:00",
        loader_id="test-1",
        pid=1,
        totals=LoaderTotals(batches=3, applied=10),
        lag=LoaderLag(total=2),
    )
    write(s, progress)
    probe = probe_progress(s, LoaderProgress)
    assert probe.healthy and probe.extra["progress"] == {
        "batches": 3,
        "rows_in": 0,
        "applied": 10,
        "stale": 0,
        "rejected": 0,
        "dead_lettered": 0,
        "truncations": 0,
        "lag": 2,
    }


def test_stale_missing_or_foreign_progress_is_unhealthy(tmp_path):
    s = Settings(home=tmp_path)
    assert not probe_progress(s, TransformProgress).healthy
    write(s, TransformProgress(batch_id=1), age_s=300)
    probe = probe_progress(s, TransformProgress)
    assert not probe.healthy and "ago" in probe.detail
    LoaderProgress.path(s).parent.mkdir(parents=True, exist_ok=True)
    LoaderProgress.path(s).write_text('{"batchId": 1}')  # not the loader's shape
    assert "unreadable" in probe_progress(s, LoaderProgress).detail


def test_progress_files_round_trip_through_their_one_reader(tmp_path):
    s = Settings(home=tmp_path)
    written = TransformProgress(batch_id=7, end_offsets={"cdc.public.orders": {2: 40}})
    written.write(s)
    assert TransformProgress.read(s) == written
    assert '"batchId": 7' in TransformProgress.path(s).read_text()  # Spark's own field names
    assert [p.name for p in s.run_dir.iterdir()] == [TransformProgress.FILE_NAME]  # no temp files


def loader_report(loader_id: str) -> LoaderProgress:
    return LoaderProgress(ts="2026-11-28T00:00:00.000+00:00", loader_id=loader_id, pid=1)


def test_named_replicas_write_their_own_files_and_each_probes_its_own(tmp_path):
    one = Settings(home=tmp_path, instance="loader-1")
    two = Settings(home=tmp_path, instance="loader-2")
    write(one, loader_report("loader-1"))
    write(two, loader_report("loader-2"), age_s=300)  # loader-2 hangs
    assert LoaderProgress.path(one).name == "loader-progress.loader-1.json"
    assert LoaderProgress.read(two).loader_id == "loader-2"  # not overwritten by loader-1
    assert probe_progress(one, LoaderProgress).healthy
    assert not probe_progress(two, LoaderProgress).healthy  # loader-1's reports do not cover it


def test_the_unnamed_reader_is_healthy_only_while_every_replica_reports(tmp_path):
    reader = Settings(home=tmp_path)  # the dashboard, `etl status`
    one = Settings(home=tmp_path, instance="loader-1")
    two = Settings(home=tmp_path, instance="loader-2")
    write(one, loader_report("loader-1"))
    write(two, loader_report("loader-2"))
    probe = probe_progress(reader, LoaderProgress)
    assert probe.healthy and set(probe.extra["replicas"]) == {
        "loader-progress.loader-1.json",
        "loader-progress.loader-2.json",
    }
    write(two, loader_report("loader-2"), age_s=300)
    probe = probe_progress(reader, LoaderProgress)
    assert not probe.healthy and "loader-progress.loader-2.json: last progress" in probe.detail


def test_a_replica_name_must_be_a_plain_file_name_part(tmp_path):
    with pytest.raises(ValueError, match="instance"):
        Settings(home=tmp_path, instance="../escape")


def test_transform_health_allows_two_checkpoint_intervals(tmp_path):
    assert TransformProgress.max_age_s(Settings()) == 60
    slow = Settings(home=tmp_path, transform_checkpoint_interval="2 minutes")
    assert TransformProgress.max_age_s(slow) == 240
    microbatch = Settings(transform_mode="microbatch", transform_checkpoint_interval="5 minutes")
    assert TransformProgress.max_age_s(microbatch) == 60
    write(slow, TransformProgress(batch_id=3), age_s=150)  # older than 60 s, within two intervals
    assert probe_progress(slow, TransformProgress).healthy
