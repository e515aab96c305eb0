"""`etl bench compare`: this pipeline and its peers under the same load, in the same run, on the
same machine, plus the source-only ceiling.

1. The peers (`app.peers`: PostgreSQL logical replication and the Debezium JDBC sink) are set up
   (idempotent) and waited for until each equals the source.
2. One ladder of offered rates (`app.capacity`) runs with an end-to-end probe per target, so
   every target sees the same shop load at every step; a target leaves the ladder at its first
   rate it did not sustain.
3. The source-only ceiling: the pipeline's processes (Connect, the transform, the loader) are
   stopped and the logical subscription disabled; shoppers write the same mix with no pause.
   Then everything is started again (`etl up`, idempotent) and the pipeline catches up: the
   replication slots kept every change, so nothing is lost. This needs the local stack (it
   stops its processes); against another stack the ceiling is skipped and the report says so.
4. The peers are torn down (unless kept): no slot, subscription, connector or topic stays.

The result says R = this pipeline's highest sustained rate / the JDBC sink peer's.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import psycopg
from pydantic import BaseModel

from app.bench import MarkerTarget, warehouse_target
from app.capacity import (
    LadderResult,
    Say,
    drain_times,
    new_run_dir,
    quiet,
    run_ladder,
    run_locust,
    settled_row_changes,
)
from app.peers import (
    pause_logical,
    peer_dsn,
    peer_target,
    setup_peer,
    teardown_peer,
    wait_until_equal,
)
from etl.errors import EtlError
from etl.settings import Settings
from infra.local.supervisor import Supervisor
from infra.peers import PEERS

#: Targets in the order the report lists them; the JDBC sink is the peer R divides by.
TARGETS = ("pipeline", "jdbc", "logical")
RATIO_PEER = "jdbc"
#: The processes stopped for the ceiling: everything that reads the source's changes.
PIPELINE_PROCESSES = ("connect", "transform", "loader")
CEILING_SHOPPERS = 16


class Ceiling(BaseModel):
    orders_per_s: float
    events_per_s: float
    shoppers: int
    seconds: float
    caught_up_s: float | None  # after restarting: until a new order reached the warehouse


class CompareResult(LadderResult):
    fixed_rate: float
    ceiling: Ceiling | None
    ceiling_skipped: str | None
    ratio: float | None
    chart: str


def _open_targets(stack: ExitStack, settings: Settings) -> dict[str, MarkerTarget]:
    def connect(dsn: str) -> psycopg.Connection:
        return stack.enter_context(psycopg.connect(dsn, autocommit=True))

    targets = {"pipeline": warehouse_target(connect(settings.warehouse_dsn()))}
    for peer in PEERS:
        targets[peer] = peer_target(connect(peer_dsn(settings, peer)), peer)
    return {name: targets[name] for name in TARGETS}


def measure_ceiling(
    settings: Settings, seconds: float, shoppers: int, run_dir: Path, say: Say
) -> Ceiling:
    """The same shop mix, unpaced, with nothing reading the source's changes (module docstring)."""
    say(f"source-only ceiling: stopping {', '.join(PIPELINE_PROCESSES)} for {seconds:g} s")
    stop_pipeline(settings)
    pause_logical(settings)
    try:
        with psycopg.connect(settings.source_dsn(), autocommit=True) as src:
            before = settled_row_changes(src)
            rows = run_locust(
                settings,
                run_dir / "ceiling",
                users=shoppers,
                seconds=seconds,
                rate="max",
                targets=[],
                user_classes=["Shopper"],
            )
            events = settled_row_changes(src) - before
    finally:
        say("starting the pipeline again; it catches up from its replication slot")
        setup_peer(settings, "logical")  # enables the subscription again
        restart_pipeline(settings, say)
    orders = int(rows[("sql", "new order")]["Request Count"]) if ("sql", "new order") in rows else 0
    with (
        psycopg.connect(settings.source_dsn(), autocommit=True) as src,
        psycopg.connect(settings.warehouse_dsn(), autocommit=True) as wh,
    ):
        caught_up = drain_times(src, [warehouse_target(wh)], timeout_s=600)["pipeline"]
    return Ceiling(
        orders_per_s=round(orders / seconds, 1),
        events_per_s=round(events / seconds, 1),
        shoppers=shoppers,
        seconds=seconds,
        caught_up_s=caught_up,
    )


def stop_pipeline(settings: Settings) -> None:
    """Stop every process that reads the source's changes (the source keeps its slot)."""
    sup = Supervisor(settings)
    for name in PIPELINE_PROCESSES:
        sup.stop(name)


def restart_pipeline(settings: Settings, say: Say, attempts: int = 4) -> None:
    """`etl up` after the ceiling. The transform restarts with the ceiling's whole backlog and
    reports its first progress only once through it, which can outlast one health wait; each
    further `up` waits again (and starts what comes after it) instead of failing the run."""
    from infra.local.runner import up

    for attempt in range(1, attempts + 1):
        try:
            up(settings)
            return
        except EtlError as exc:
            if attempt == attempts:
                raise
            say(f"{exc}: it is catching up with the ceiling's backlog; waiting again")


def ratio(result: LadderResult) -> float | None:
    """R: this pipeline's highest sustained orders/s over the JDBC peer's (None if it had none)."""
    peer = result.capacity[RATIO_PEER].orders_per_s
    return round(result.capacity["pipeline"].orders_per_s / peer, 2) if peer else None


def compare(
    settings: Settings,
    *,
    rates: Iterable[float],
    fixed_rate: float = 200.0,
    bound_s: float = 2.0,
    step_seconds: float = 30.0,
    drain_timeout_s: float = 120.0,
    ceiling_seconds: float = 30.0,
    ceiling_shoppers: int = CEILING_SHOPPERS,
    keep_peers: bool = False,
    say: Say = quiet,
) -> CompareResult:
    """Run the comparison (module docstring) and save its chart; the result names every file."""
    from app.compare_report import save_chart

    run_dir = new_run_dir(settings, "compare")
    try:
        for peer in PEERS:
            say(f"setting up the {peer} peer and waiting until it equals the source")
            setup_peer(settings, peer)
            waited = wait_until_equal(settings, peer, timeout_s=900)
            say(f"{peer} peer equal to the source after {waited:.0f} s")
        with ExitStack() as stack:
            ladder = run_ladder(
                settings,
                _open_targets(stack, settings),
                sorted({*rates, fixed_rate}),
                run_dir,
                bound_s=bound_s,
                step_seconds=step_seconds,
                drain_timeout_s=drain_timeout_s,
                say=say,
            )
        ceiling, skipped = None, None
        if Supervisor(settings).is_running():
            ceiling = measure_ceiling(settings, ceiling_seconds, ceiling_shoppers, run_dir, say)
        else:
            skipped = "the ceiling stops the pipeline's processes: it needs the local stack"
    finally:
        if not keep_peers:
            for peer in PEERS:
                say(f"tearing down the {peer} peer")
                teardown_peer(settings, peer)
    result = CompareResult(
        **ladder.model_dump(),
        fixed_rate=fixed_rate,
        ceiling=ceiling,
        ceiling_skipped=skipped,
        ratio=ratio(ladder),
        chart=str(run_dir / "compare.png"),
    )
    save_chart(result, Path(result.chart))
    (run_dir / "result.json").write_text(result.model_dump_json(indent=2))
    return result
