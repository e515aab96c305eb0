"""A full quality run (every suite, Data Docs included) on a warehouse of 5,000 seeded orders:
wall time, Data Docs build time and the run's peak memory, printed (run with `-s`); no timed
assertion. `python -m quality` runs as its own process, as the loader's gate and `etl quality`
run it, so its peak RSS is its own (os.wait4's rusage of that one child).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from app.seed import SeedPlan, run_seed
from etl.quality_results import QualityRun
from etl.settings import Settings, settings_environment
from etl.warehouse_db import DATA_TABLES
from tests.fixtures.quality import REPO, snapshot_records
from tests.unit.loaders.conftest import Applier

pytestmark = pytest.mark.integration
ORDERS = 5000


def test_full_quality_run_on_5000_orders(quality_settings: Settings, source_dsn: str) -> None:
    with (
        psycopg.connect(source_dsn, autocommit=True) as source,
        psycopg.connect(quality_settings.warehouse_dsn(), autocommit=True) as wh,
    ):
        source.execute("TRUNCATE customers, products, orders, order_items RESTART IDENTITY CASCADE")
        run_seed(source_dsn, SeedPlan(orders=ORDERS, seed=5))
        wh.execute("TRUNCATE " + ", ".join(f"dw.{t}" for t in DATA_TABLES) + " RESTART IDENTITY")
        Applier(wh)(*snapshot_records(source))
        rows = wh.execute("SELECT count(*) FROM dw.fact_order_items").fetchone()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "quality"],
        cwd=REPO,
        env={**os.environ, **settings_environment(quality_settings)},
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    run = QualityRun.model_validate_json(output)
    assert os.waitstatus_to_exitcode(status) == 0 and run.passed, run.suites
    print(
        f"\nquality run on {ORDERS} orders ({rows[0] if rows else '?'} order lines): "
        f"{seconds:.2f} s wall (process start + GX import included), "
        f"{run.seconds:.2f} s in the run, of which Data Docs {run.docs_seconds:.2f} s; "
        f"peak RSS {usage.ru_maxrss / 1024:.0f} MiB"
    )
