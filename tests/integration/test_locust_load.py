"""The Locust harness against the running pipeline: it runs, reports, and its probe is honest.

Locust runs as a subprocess, never imported here: it monkey-patches the standard library with
gevent, which hangs the Pulumi mock tests sharing this process. The run is short and steady;
what is checked is that the harness works (reports written, requests counted, `e2e` samples
taken, the probe's marker orders really in the warehouse), not how fast anything was.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from etl.settings import Settings
from tests.fixtures.stack import REPO

pytestmark = pytest.mark.integration

RUN_TIME = "25s"
#: The probe's marker orders belong to `etl bench latency`'s customer (app/bench.py).
MARKER_ORDERS = (
    "SELECT o.order_id FROM orders o JOIN customers c USING (customer_id)"
    " WHERE c.email = 'bench@example.org'"
)


def run_locust(prefix: Path, shape: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "--config",
            "loadtests/locust.conf",
            "-u",
            "5",
            "-t",
            RUN_TIME,
            "--csv",
            str(prefix),
            "--html",
            f"{prefix}.html",
        ],
        cwd=REPO,
        env={**os.environ, "LOAD_SHAPE": shape},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def stats_rows(prefix: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as f:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}


def missing_in_warehouse(settings: Settings, order_ids: list[int], wait_s: float) -> set[int]:
    """Marker orders not (yet) in dw.fact_orders; waits for the one a run may have cut off."""
    deadline = time.monotonic() + wait_s
    with psycopg.connect(settings.warehouse_dsn(), autocommit=True) as wh:
        while True:
            found = wh.execute(
                "SELECT order_id FROM dw.fact_orders WHERE order_id = ANY(%s)", (order_ids,)
            ).fetchall()
            missing = set(order_ids) - {r[0] for r in found}
            if not missing or time.monotonic() > deadline:
                return missing
            time.sleep(0.5)


def test_steady_load_reports_requests_and_end_to_end_latency(pipeline: Settings, tmp_path):
    prefix = tmp_path / "steady"
    result = run_locust(prefix, "steady")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]

    html = Path(f"{prefix}.html").read_text()
    assert '"e2e"' in html and '"new order"' in html  # the report's embedded statistics
    rows = stats_rows(prefix)
    assert int(rows[("", "Aggregated")]["Request Count"]) > 0
    for name in ("new order", "status change"):
        assert int(rows[("sql", name)]["Request Count"]) > 0, name
    assert all(int(r["Failure Count"]) == 0 for r in rows.values()), rows
    e2e = rows[("e2e", "pipeline")]
    samples = int(e2e["Request Count"])
    assert samples > 0
    assert float(e2e["50%"]) > 0
    assert Path(f"{prefix}_stats_history.csv").is_file()

    with psycopg.connect(pipeline.source_dsn(), autocommit=True) as src:
        markers = [r[0] for r in src.execute(MARKER_ORDERS)]
    assert len(markers) >= samples  # each sample is one committed marker order
    assert missing_in_warehouse(pipeline, markers, wait_s=60) == set()
