"""Locust entry point: shop load on the source database, end-to-end latency to the warehouse.

    locust -f loadtests/locustfile.py --config loadtests/locust.conf      # headless, steady
    LOAD_SHAPE=spike locust -f loadtests/locustfile.py --config loadtests/locust.conf -u 20 -t 60s
    locust -f loadtests/locustfile.py --web-host 127.0.0.1                # the web UI

The stack is found through the usual `ETL_*` settings (`etl env` prints them). Users are in
`users.py`, shapes in `shapes.py` (LOAD_SHAPE: steady, ramp, spike or step). Request type `sql`
is the shop's writes, request type `e2e` the source COMMIT to warehouse row latency.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import locust  # noqa: F401  (gevent's monkey-patching first; psycopg after it)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere, venv or not

import psycopg.waiting

from loadtests.shapes import shape_named
from loadtests.users import EndToEndProbe, Shopper

if psycopg.waiting.wait is getattr(psycopg.waiting, "wait_c", None):
    raise SystemExit(
        "psycopg was imported before gevent patched the standard library: every user would block "
        "the others. Import locust before anything that imports psycopg."
    )

LoadShape = shape_named(os.environ.get("LOAD_SHAPE", "steady"))

__all__ = ["EndToEndProbe", "LoadShape", "Shopper"]
