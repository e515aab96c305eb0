import json
import os
import time

import pytest

from etl.health import probe_progress
from etl.settings import Settings

pytestmark = pytest.mark.unit


def write(settings: Settings, name: str, payload: dict, age_s: float = 0) -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    path = settings.run_dir / name
    path.write_text(json.dumps(payload))
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))


def test_fresh_transform_progress_is_healthy_and_carries_offsets(tmp_path):
    s = Settings(home=tmp_path)
    offsets = {"cdc.public.orders": {"0": 12, "1": 7}}
    write(
        s,
        "transform-progress.json",
        {
            "batchId": 4,
            "durationMs": {"triggerExecution": 250},
            "endOffsets": offsets,
            "backlog": 0,
        },
    )
    probe = probe_progress(s, "transform")
    assert probe.healthy
    assert probe.detail == "batchId=4, durationMs=250, backlog=0"
    assert probe.extra["progress"]["endOffsets"] == offsets


def test_loader_counters_are_flattened(tmp_path):
    s = Settings(home=tmp_path)
    write(s, "loader-progress.json", {"totals": {"batches": 3, "applied": 10}, "lag": {"total": 2}})
    probe = probe_progress(s, "loader")
    assert probe.healthy and probe.extra["progress"] == {"batches": 3, "applied": 10, "lag": 2}


def test_stale_or_missing_progress_is_unhealthy(tmp_path):
    s = Settings(home=tmp_path)
    assert not probe_progress(s, "transform").healthy
    write(s, "transform-progress.json", {"batchId": 1}, age_s=300)
    probe = probe_progress(s, "transform")
    assert not probe.healthy and "ago" in probe.detail
