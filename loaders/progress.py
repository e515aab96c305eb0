"""The loader's latest batch stats in `run_dir/loader-progress.json`, for `etl status`.

Written atomically (a temporary file in the same directory, then os.replace), so a reader sees
the previous file or the new one, never half of one. Format (one JSON object):

    {"ts": "2026-01-01T00:00:00.000+00:00", "loader_id": "host-123", "pid": 123,
     "batch": {"batch_id": 7, "rows_in": 5000, "applied": 4990, "stale": 10, "rejected": 0,
               "duration_ms": 812.3, "per_entity": {"orders": {"rows_in": 900, "applied": 900}}},
     "totals": {"batches": 7, "rows_in": 31000, "applied": 30990, "stale": 10, "rejected": 0},
     "lag": {"total": 120, "partitions": {"curated.orders[0]": 40, ...}},
     "assigned": ["curated.orders[0]", ...]}

`batch` is null until the first batch; `lag` counts messages not yet loaded on the partitions
this loader owns (from the consumer's cached high watermarks; null where unknown).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

PROGRESS_FILE = "loader-progress.json"


def write_progress(run_dir: Path, payload: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    target = run_dir / PROGRESS_FILE
    fd, tmp = tempfile.mkstemp(prefix=".loader-progress.", dir=run_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, default=str)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_progress(run_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((run_dir / PROGRESS_FILE).read_text())
    except FileNotFoundError:
        return None
