"""The capacity finder (`etl bench capacity`) and the side-by-side comparison (`etl bench compare`).

Both drive the Locust load test (`loadtests/`) as a subprocess, one steady run per offered rate
(orders/s, `LOAD_RATE`), rising through a ladder. Locust is never imported here: it patches the
standard library with gevent.

At each rate, for each target (this pipeline, and in a comparison the peers of `app.peers`):
- the end-to-end probe's latencies (Locust's `e2e` requests: source COMMIT to the row in the
  target) give p50/p95/p99;
- after the load stops, one marker order is committed and timed into every target: the backlog
  the step left behind. A target that keeps up leaves about its usual latency; one whose lag
  keeps growing leaves the whole backlog.
Before the first step, WARM_UP_S of unrecorded load at the first rate absorbs start-up costs.
A target sustains a rate when its probe never failed, its p95 and its backlog are both within
the bound, and the load generator really offered the rate (achieved >= 90% of offered). Its
capacity is the highest rate it sustained before the first one it did not; the ladder stops
when no target sustains a rate or the generator falls short. Change events are counted on the
source (rows inserted, updated and deleted in the captured tables, from `pg_stat_user_tables`
once the step's connections have closed), so they are the same for every target.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from pydantic import BaseModel

from app.bench import POLL_S, LatencyProbe, MarkerTarget, warehouse_target
from app.shop import tasks_per_order
from etl.errors import EtlError
from etl.settings import Settings, connection_env
from etl.tables import CAPTURED, SOURCE_SCHEMA

REPO = Path(__file__).resolve().parents[1]
LOCUST_CONF = REPO / "loadtests" / "locust.conf"
#: Seconds of unrecorded load at the first rate before the first step (module docstring).
WARM_UP_S = 20.0
#: At most this many tasks per second per shopper, so each has 50 ms per operation.
TASKS_PER_SHOPPER = 20.0
GENERATOR_SHORTFALL = 0.9
Say = Callable[[str], None]


def quiet(message: str) -> None:
    pass


class TargetStep(BaseModel):
    """One target at one offered rate."""

    samples: int
    failures: int
    p50_s: float | None
    p95_s: float | None
    p99_s: float | None
    backlog_s: float | None  # None: the marker had not arrived within the drain timeout
    sustained: bool


class Step(BaseModel):
    offered_orders_per_s: float
    orders_per_s: float  # achieved: new orders committed per second of the step
    events_per_s: float  # rows changed in the captured source tables per second
    seconds: float
    generator_short: bool  # achieved < 90% of offered: the source or the generator was the limit
    targets: dict[str, TargetStep]
    report_html: str


class Capacity(BaseModel):
    """The highest rate a target sustained (0 if none), with the change events it carried."""

    orders_per_s: float
    events_per_s: float
    offered_orders_per_s: float
    at_ladder_top: bool  # sustained every step run: the true capacity is higher


class LadderResult(BaseModel):
    bound_s: float
    step_seconds: float
    steps: list[Step]
    capacity: dict[str, Capacity]
    run_dir: str
    started_at: str
    machine: str


# --------------------------------------------------------------------------- one step


def shoppers_for(rate: float) -> int:
    """Enough shoppers that each has 50 ms per operation at `rate` orders/s."""
    return max(4, math.ceil(rate * tasks_per_order() / TASKS_PER_SHOPPER))


def run_locust(
    settings: Settings,
    prefix: Path,
    *,
    users: int,
    seconds: float,
    rate: str,
    targets: list[str],
    user_classes: Iterable[str] = (),
) -> dict[tuple[str, str], dict[str, str]]:
    """One headless steady Locust run; its stats rows by (type, name). HTML and CSV next to
    `prefix`, Locust's output in `prefix.log`."""
    if not LOCUST_CONF.is_file():
        raise EtlError(f"{LOCUST_CONF} not found: load tests run from a clone of the repository")
    command = [
        *(sys.executable, "-m", "locust", "--config", str(LOCUST_CONF)),
        *("-u", str(users), "-r", str(users), "-t", f"{math.ceil(seconds)}s"),
        *("--csv", str(prefix), "--html", f"{prefix}.html", *user_classes),
    ]
    env = {
        **os.environ,
        **connection_env(settings),
        "LOAD_SHAPE": "steady",
        "LOAD_RATE": rate,
        "LOAD_TARGETS": ",".join(targets) or "pipeline",
    }
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{prefix}.log", "w") as log:
        done = subprocess.run(
            command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        raise EtlError(f"Locust exited with {done.returncode}: its output is in {prefix}.log")
    with open(f"{prefix}_stats.csv", newline="") as f:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(f)}


def _seconds(row: dict[str, str], column: str) -> float | None:
    value = row.get(column, "N/A")
    return None if value in ("N/A", "", None) else round(float(value) / 1000.0, 3)


def _count(rows: dict[tuple[str, str], dict[str, str]], key: tuple[str, str]) -> int:
    return int(rows[key]["Request Count"]) if key in rows else 0


def row_changes(src: psycopg.Connection) -> int:
    """Rows inserted, updated and deleted so far in the captured source tables: change events."""
    row = src.execute(
        "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables"
        " WHERE schemaname = %s AND relname = ANY(%s)",
        (SOURCE_SCHEMA, [t.name for t in CAPTURED]),
    ).fetchone()
    assert row is not None
    return int(row[0])


def settled_row_changes(src: psycopg.Connection) -> int:
    """`row_changes` once the counters stopped moving: backends publish their counts when they
    end, and an exiting backend's last flush can lag the process's exit by a moment."""
    last = row_changes(src)
    for _ in range(20):
        time.sleep(0.25)
        now = row_changes(src)
        if now == last:
            return now
        last = now
    return last


def drain_times(
    src: psycopg.Connection, targets: list[MarkerTarget], timeout_s: float
) -> dict[str, float | None]:
    """Commit one marker order and time its arrival in every target (polled round-robin, so no
    target waits for another); None for a target it did not reach within `timeout_s`."""
    marker = LatencyProbe(src, targets[0], timeout_s).commit_order()
    committed = time.perf_counter()
    arrived: dict[str, float] = {}
    pending = list(targets)
    while pending and time.perf_counter() - committed < timeout_s:
        for target in list(pending):
            if target.conn.execute(target.order_query, vars(marker)).fetchone():
                arrived[target.name] = round(time.perf_counter() - committed, 3)
                pending.remove(target)
        time.sleep(POLL_S)
    return {t.name: arrived.get(t.name) for t in targets}


def judge(
    samples: int,
    failures: int,
    p95_s: float | None,
    backlog_s: float | None,
    bound_s: float,
    generator_short: bool,
) -> bool:
    """Whether a target sustained a step (module docstring)."""
    return (
        not generator_short
        and samples > 0
        and failures == 0
        and p95_s is not None
        and p95_s <= bound_s
        and backlog_s is not None
        and backlog_s <= bound_s
    )


# --------------------------------------------------------------------------- the ladder


class Ladder:
    """Steps through offered rates against `targets` (names as in `LOAD_TARGETS`)."""

    def __init__(
        self,
        settings: Settings,
        targets: dict[str, MarkerTarget],
        *,
        bound_s: float,
        step_seconds: float,
        drain_timeout_s: float,
        run_dir: Path,
        say: Say = quiet,
    ) -> None:
        self.settings, self.targets, self.say = settings, targets, say
        self.bound_s, self.step_seconds = bound_s, step_seconds
        self.drain_timeout_s, self.run_dir = drain_timeout_s, run_dir

    def run(self, rates: Iterable[float]) -> list[Step]:
        steps: list[Step] = []
        active = list(self.targets)
        rates = list(rates)
        with psycopg.connect(self.settings.source_dsn(), autocommit=True) as src:
            self.warm_up(src, rates[0])
            for rate in rates:
                step = self.step(src, rate, active)
                steps.append(step)
                self.say(describe(step))
                active = [name for name in active if step.targets[name].sustained]
                if step.generator_short or not active:
                    break
        return steps

    def warm_up(self, src: psycopg.Connection, rate: float) -> None:
        """WARM_UP_S of unrecorded load at the first rate, then one marker order into every
        target: start-up costs (JIT, connection pools, a peer's snapshot just finished) stay out
        of the first step, and the probes' customer and product exist everywhere."""
        self.say(f"warming up: {WARM_UP_S:g} s at {rate:g} orders/s, not recorded")
        run_locust(
            self.settings,
            self.run_dir / "warm-up",
            users=shoppers_for(rate) + len(self.targets),
            seconds=WARM_UP_S,
            rate=f"{rate:g}",
            targets=list(self.targets),
        )
        arrived = drain_times(src, list(self.targets.values()), self.drain_timeout_s)
        if missing := [name for name, seconds in arrived.items() if seconds is None]:
            raise EtlError(
                f"a marker order did not reach {', '.join(missing)} within "
                f"{self.drain_timeout_s:.0f} s before any load: `etl status` shows what is behind"
            )
        self.say(
            "warm-up marker order in every target: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in arrived.items())
        )

    def step(self, src: psycopg.Connection, rate: float, active: list[str]) -> Step:
        prefix = self.run_dir / f"rate-{rate:g}"
        shoppers = shoppers_for(rate)
        before = settled_row_changes(src)
        started = time.perf_counter()
        rows = run_locust(
            self.settings,
            prefix,
            users=shoppers + len(active),
            seconds=self.step_seconds,
            rate=f"{rate:g}",
            targets=active,
        )
        seconds = time.perf_counter() - started
        backlog = drain_times(src, [self.targets[n] for n in active], self.drain_timeout_s)
        events = settled_row_changes(src) - before
        orders = _count(rows, ("sql", "new order"))
        achieved = orders / self.step_seconds
        short = achieved < GENERATOR_SHORTFALL * rate
        targets: dict[str, TargetStep] = {}
        for name in active:
            row = rows.get(("e2e", name), {})
            samples = int(row.get("Request Count", 0) or 0)
            failures = int(row.get("Failure Count", 0) or 0)
            p95 = _seconds(row, "95%")
            targets[name] = TargetStep(
                samples=samples,
                failures=failures,
                p50_s=_seconds(row, "50%"),
                p95_s=p95,
                p99_s=_seconds(row, "99%"),
                backlog_s=backlog[name],
                sustained=judge(samples, failures, p95, backlog[name], self.bound_s, short),
            )
        return Step(
            offered_orders_per_s=rate,
            orders_per_s=round(achieved, 1),
            events_per_s=round(events / self.step_seconds, 1),
            seconds=round(seconds, 1),
            generator_short=short,
            targets=targets,
            report_html=f"{prefix}.html",
        )


def describe(step: Step) -> str:
    """One progress line per step."""
    parts = []
    for name, t in step.targets.items():
        p95 = "-" if t.p95_s is None else f"{t.p95_s:.2f}"
        backlog = "not drained" if t.backlog_s is None else f"{t.backlog_s:.2f} s"
        verdict = "ok" if t.sustained else "NOT sustained"
        parts.append(f"{name} p95 {p95} s, backlog {backlog}, {verdict}")
    short = " (generator short of the offered rate)" if step.generator_short else ""
    return (
        f"{step.offered_orders_per_s:g} orders/s offered, {step.orders_per_s:g} achieved, "
        f"{step.events_per_s:g} change events/s{short}: " + "; ".join(parts)
    )


def capacities(steps: list[Step], names: Iterable[str]) -> dict[str, Capacity]:
    """Per target: the highest step it sustained before its first failure (module docstring)."""
    result: dict[str, Capacity] = {}
    for name in names:
        best: Step | None = None
        for step in steps:
            if name not in step.targets or not step.targets[name].sustained:
                break
            best = step
        last = steps[-1] if steps else None
        result[name] = Capacity(
            orders_per_s=best.orders_per_s if best else 0.0,
            events_per_s=best.events_per_s if best else 0.0,
            offered_orders_per_s=best.offered_orders_per_s if best else 0.0,
            at_ladder_top=best is not None and best is last,
        )
    return result


def new_run_dir(settings: Settings, kind: str) -> Path:
    """A fresh folder for one run's reports, under the load tests' git-ignored folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = settings.home / "loadtests" / f"{kind}-{stamp}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> str:
    """What the figures were measured on."""
    cores = os.cpu_count() or 0
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.machine()}, {cores} cores, {memory_gib:.0f} GiB"


def run_ladder(
    settings: Settings,
    targets: dict[str, MarkerTarget],
    rates: Iterable[float],
    run_dir: Path,
    *,
    bound_s: float,
    step_seconds: float,
    drain_timeout_s: float,
    say: Say = quiet,
) -> LadderResult:
    """Step `targets` through `rates`; the steps and each target's capacity."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    ladder = Ladder(
        settings,
        targets,
        bound_s=bound_s,
        step_seconds=step_seconds,
        drain_timeout_s=drain_timeout_s,
        run_dir=run_dir,
        say=say,
    )
    steps = ladder.run(rates)
    return LadderResult(
        bound_s=bound_s,
        step_seconds=step_seconds,
        steps=steps,
        capacity=capacities(steps, targets),
        run_dir=str(run_dir),
        started_at=started,
        machine=machine(),
    )


def find_capacity(
    settings: Settings,
    *,
    rates: Iterable[float],
    bound_s: float = 2.0,
    step_seconds: float = 30.0,
    drain_timeout_s: float = 120.0,
    say: Say = quiet,
) -> LadderResult:
    """`etl bench capacity`: this pipeline alone, up the ladder until it stops keeping up."""
    with psycopg.connect(settings.warehouse_dsn(), autocommit=True) as wh:
        return run_ladder(
            settings,
            {"pipeline": warehouse_target(wh)},
            rates,
            new_run_dir(settings, "capacity"),
            bound_s=bound_s,
            step_seconds=step_seconds,
            drain_timeout_s=drain_timeout_s,
            say=say,
        )
