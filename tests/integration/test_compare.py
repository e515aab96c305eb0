"""`etl bench compare` against the running test pipeline: the harness works end to end.

Short steps at low rates with a loose bound: what is checked is that every part ran and reports
what really happened (each target's probe orders arrived, change events were counted on the
source, the ceiling stopped and restarted the pipeline, the peers were torn down, the chart was
drawn, the text ends with `pipeline/peer:`), not how fast anything was. The command runs as a
subprocess, as a user runs it: it starts Locust, which must not be imported here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.peers import leftovers
from etl.settings import Settings
from infra.peers import PEERS
from tests.fixtures.stack import etl_cli

pytestmark = pytest.mark.integration

TARGETS = {"pipeline", "jdbc", "logical"}


def test_compare_runs_every_target_the_ceiling_and_ends_with_the_ratio(pipeline: Settings):
    before = set((pipeline.home / "loadtests").glob("compare-*"))
    done = etl_cli(
        *("bench", "compare", "--rates", "4,8", "--fixed-rate", "8", "--duration", "12"),
        *("--ceiling-duration", "6", "--bound", "60"),
        timeout=1500,
    )
    assert done.stdout.rstrip().splitlines()[-1].startswith("pipeline/peer: "), done.stdout

    (run_dir,) = set((pipeline.home / "loadtests").glob("compare-*")) - before
    result = json.loads((run_dir / "result.json").read_text())
    steps = result["steps"]
    assert [s["offered_orders_per_s"] for s in steps] == [4.0, 8.0], done.stderr[-3000:]
    for step in steps:
        assert step["orders_per_s"] > 0 and step["events_per_s"] > step["orders_per_s"]
        assert set(step["targets"]) == TARGETS  # a loose bound: nobody left the ladder
        for name, target in step["targets"].items():
            assert target["samples"] > 0 and target["failures"] == 0, (name, target)
            assert target["backlog_s"] is not None, name  # the step's last marker arrived
        assert Path(step["report_html"]).is_file()
    for name in TARGETS:
        assert result["capacity"][name]["orders_per_s"] == steps[-1]["orders_per_s"]
    assert result["ratio"] == 1.0

    ceiling = result["ceiling"]
    assert ceiling["orders_per_s"] > 0 and ceiling["events_per_s"] > 0
    assert ceiling["caught_up_s"] is not None  # the pipeline ran again and caught up
    assert Path(result["chart"]).read_bytes()[:4] == b"\x89PNG"
    assert etl_cli("status", check=False).returncode == 0  # every component healthy again
    for peer in PEERS:
        assert leftovers(pipeline, peer) == [], peer
