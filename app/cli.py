"""`etl`: the command line of the local stack (typer). Errors print one line and exit 1."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from app.params import (
    BoundOption,
    JsonOption,
    OrdersOption,
    RatesOption,
    SeedOption,
    StepOption,
    WaitOption,
    parse_rates,
)
from etl.errors import ComponentFailed, EtlError
from etl.settings import Settings, connection_env, load_settings

app = typer.Typer(
    help="Real-time CDC ETL: PostgreSQL -> Debezium -> Kafka -> Spark -> warehouse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])


def _redacted(text: object) -> str:
    """An error's text with every password of this ETL_HOME masked (a DSN in a libpq message,
    a log tail): a password never reaches the terminal, whatever the error."""
    from etl.secrets import redact

    try:
        settings: Settings | None = load_settings()
    except EtlError:
        settings = None
    return redact(str(text), settings)


def handles_errors(func: F) -> F:
    """Turn EtlError (and a database connection failure) into one red line, plus a log tail
    for a failed component, and exit 1."""
    import psycopg

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ComponentFailed as exc:
            console.print(f"[red]error:[/red] {_redacted(exc)}", markup=True, highlight=False)
            if exc.log_tail:
                console.print(f"[dim]--- last lines of {exc.component}'s log ---[/dim]")
                console.print(_redacted(exc.log_tail), markup=False, highlight=False)
            raise typer.Exit(1) from None
        except EtlError as exc:
            console.print(f"[red]error:[/red] {_redacted(exc)}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            console.print(
                f"[red]error:[/red] database: {_redacted(first)}", markup=True, highlight=False
            )
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _settings() -> Settings:
    return load_settings()


def _report(component: str, message: str) -> None:
    console.print(f"[cyan]{component:>13}[/cyan]  {message}", highlight=False)


def print_json(value: BaseModel | dict[str, Any]) -> None:
    """One JSON object on stdout: a typed result as its model dump, or a plain mapping."""
    text = value.model_dump_json() if isinstance(value, BaseModel) else json.dumps(value)
    out.print_json(text)


@app.command()
@handles_errors
def up(
    components: list[str] | None = typer.Argument(
        None, help="Start only these (and what they need), e.g. `etl up connector`."
    ),
) -> None:
    """Start the local stack (idempotent): databases, Kafka, Connect + Debezium, the Spark
    transform, the loader, the dashboard; each gated by a real health probe."""
    from infra.local.runner import up as run_up

    settings = _settings()
    with console.status("starting the local stack...", spinner="dots"):
        result = run_up(settings, _report, only=components)
    console.print(
        f"[green]stack healthy[/green] in {result.seconds:.1f} s; `etl env` prints "
        "connection settings"
    )


@app.command()
@handles_errors
def down(
    purge: bool = typer.Option(False, "--purge", help="Also delete data, logs and config."),
) -> None:
    """Stop every process of the local stack (reverse order)."""
    from infra.local.runner import down as run_down

    run_down(_settings(), purge=purge, report=_report)


@app.command()
@handles_errors
def status(as_json: bool = JsonOption) -> None:
    """Health of each component; exit code 0 only when all are healthy."""
    from app.render import print_status
    from infra.local.status import status as run_status

    result = run_status(_settings())
    if as_json:
        print_json(result)
    else:
        print_status(out, result)
    raise typer.Exit(0 if result.healthy else 1)


@app.command()
@handles_errors
def restart(
    component: str = typer.Argument(..., help="A process of the stack, e.g. connect or loader."),
) -> None:
    """Restart one component (picks up new code), then wait until it is healthy again."""
    from infra.local.runner import wait_healthy
    from infra.local.supervisor import Supervisor
    from infra.services import processes

    by_name = {s.name: s for s in processes()}
    if component not in by_name:
        raise EtlError(f"unknown component {component!r}: one of {', '.join(by_name)}")
    settings = _settings()
    sup = Supervisor(settings)
    if not sup.is_running():
        raise EtlError("the stack is not running: `etl up` starts it")
    sup.stop(component)
    sup.start(component)
    with console.status(f"waiting for {component}..."):
        wait_healthy(settings, sup, by_name[component])
    _report(component, "[UP] restarted and healthy")


@app.command()
@handles_errors
def env(as_json: bool = JsonOption) -> None:
    """Connection settings as KEY=VALUE lines: `set -a; eval "$(etl env)"; set +a` exports them.

    No passwords: the DSNs name ETL_HOME's owner-only libpq password file (`passfile=`)."""
    values = connection_env(_settings())
    if as_json:
        print_json(values)
        return
    for key, value in values.items():
        sys.stdout.write(f"{key}={shlex.quote(value)}\n")


@app.command()
@handles_errors
def jars() -> None:
    """Resolve the JVM jars with Maven into ETL_HOME/lib (reused while the POM is unchanged)."""
    from infra.local.jars import COMPONENTS, resolve_jars

    settings = _settings()
    for component in COMPONENTS:
        with console.status(f"resolving {component} jars with Maven..."):
            target = resolve_jars(settings, component)
        _report(component, f"{len(list(target.glob('*.jar')))} jars in {target}")


@app.command()
@handles_errors
def topics(as_json: bool = JsonOption) -> None:
    """Messages held per CDC topic (tombstones included)."""
    from etl.topics import message_counts

    settings = _settings()
    counts = message_counts(settings, settings.cdc_topics())
    if as_json:
        print_json(counts)
        return
    for topic, count in counts.items():
        out.print(f"{topic:<32} {'(missing)' if count is None else count:>10}")


@app.command()
@handles_errors
def seed(
    orders: int = OrdersOption,
    seed_value: int = SeedOption,
    as_json: bool = JsonOption,
) -> None:
    """Write a realistic mix of shop changes into the source database."""
    from app.seed import SeedPlan, run_seed

    settings = _settings()
    plan = SeedPlan(orders=orders, seed=seed_value)
    with console.status(f"seeding {orders} orders..."):
        summary = run_seed(settings.source_dsn(), plan)
    if as_json:
        print_json(summary)
    else:
        _report("seed", ", ".join(f"{k}={v}" for k, v in summary.items()))


@app.command()
@handles_errors
def demo(
    orders: int = typer.Option(500, "--orders", min=1, help="Orders to seed."),
    seed_value: int = SeedOption,
) -> None:
    """`etl up`, `etl seed`, change events per CDC topic, the warehouse report, `etl reconcile`."""
    from app.demo import run_demo

    matched = run_demo(_settings(), orders=orders, seed=seed_value, report=_report, out=out)
    raise typer.Exit(0 if matched else 1)


@app.command()
@handles_errors
def reconcile(wait_s: float = WaitOption, as_json: bool = JsonOption) -> None:
    """Compare source and warehouse (counts, sums, per-key hashes); exit 0 only if they match."""
    from app.render import print_reconcile
    from loaders.reconcile import reconcile as run_reconcile

    with console.status("waiting for the pipeline to drain, then comparing..."):
        result = run_reconcile(_settings(), wait_s)
    if as_json:
        print_json(result)
    else:
        print_reconcile(out, result)
    raise typer.Exit(0 if result.match else 1)


dlq_app = typer.Typer(
    help="The dead-letter topic: list what it holds; replay it through the pipeline after a fix.",
    no_args_is_help=True,
)
app.add_typer(dlq_app, name="dlq")
TableOption = typer.Option(None, "--table", help="Only this source table (entity).")
StageOption = typer.Option(None, "--stage", help="Only dead letters of transform or loader.")
SinceOption = typer.Option(
    None, "--since", help="Only dead letters since an ISO time or an age (90s, 30m, 2h, 7d)."
)


def _dlq_selection(table: str | None, stage: str | None, since: str | None) -> dict[str, Any]:
    """The `etl dlq` filters as keyword arguments of app.dlq, each checked."""
    from app.dlq import parse_since

    if stage not in (None, "transform", "loader"):
        raise EtlError(f"--stage {stage!r}: must be transform or loader")
    return {"table": table, "stage": stage, "since": parse_since(since) if since else None}


@dlq_app.command("list")
@handles_errors
def dlq_list(
    table: str | None = TableOption,
    stage: str | None = StageOption,
    since: str | None = SinceOption,
    as_json: bool = JsonOption,
) -> None:
    """Every dead letter, oldest first: rule, reason, source position, key, when replayed."""
    from app.dlq import dead_letters
    from app.render import print_dead_letter_list

    entries = dead_letters(_settings(), **_dlq_selection(table, stage, since))
    if as_json:
        print_json({"dead_letters": [e.model_dump(mode="json") for e in entries]})
    else:
        print_dead_letter_list(out, entries)


@dlq_app.command("replay")
@handles_errors
def dlq_replay(
    table: str | None = TableOption,
    stage: str | None = StageOption,
    since: str | None = SinceOption,
    again: bool = typer.Option(
        False, "--again", help="Also those replayed before (after a second fix)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send nothing."),
    as_json: bool = JsonOption,
) -> None:
    """Send dead letters back through the pipeline after a fix (transform ones through the
    transform, loader ones to the loader); the warehouse applies each change at most once."""
    from app.dlq import replay as run_replay

    selection = _dlq_selection(table, stage, since)
    with console.status("reading the dead-letter topic and replaying..."):
        result = run_replay(_settings(), **selection, again=again, dry_run=dry_run)
    if as_json:
        print_json(result)
        return
    verb = "would send" if dry_run else "sent"
    count = sum(result.by_topic.values())
    topics = ", ".join(f"{t}: {n}" for t, n in sorted(result.by_topic.items())) or "-"
    out.print(
        f"{result.matched} dead letter(s) selected; {verb} {count} ({topics}); "
        f"{result.already_replayed} already replayed (--again sends them), "
        f"{result.duplicates} duplicate(s), {len(result.not_replayable)} not replayable",
        highlight=False,
        soft_wrap=True,
    )
    for skip in result.not_replayable:
        out.print(f"  not replayable: DLQ [{skip.dlq_partition}]@{skip.dlq_offset}: {skip.why}")


bench_app = typer.Typer(
    help="Measure a running stack (local or Docker): commit-to-warehouse latency, burst drain;"
    " the local stack's idle CPU and memory; compare saved `make bench` runs.",
    no_args_is_help=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.command("latency")
@handles_errors
def bench_latency(
    orders: int = typer.Option(20, "--orders", min=1, help="Single orders to time."),
    idle_s: float = typer.Option(
        1.0, "--idle", min=0, help="Seconds the pipeline idles before each order."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Single orders with the pipeline idle: source COMMIT to warehouse row, p50/p95/max."""
    from rich.progress import Progress

    from app.bench import bench_latency as run_bench

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("timing orders", total=orders)
        result = run_bench(
            _settings(),
            orders,
            idle_s=idle_s,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    if as_json:
        print_json(result)
        return
    out.print(
        f"commit -> warehouse over {result.orders} orders: p50 {result.p50_s:.3f} s, "
        f"p95 {result.p95_s:.3f} s, max {result.max_s:.3f} s (mean {result.mean_s:.3f} s)"
    )


@bench_app.command("burst")
@handles_errors
def bench_burst(
    orders: int = typer.Option(5000, "--orders", min=1, help="Orders in the burst."),
    seed_value: int = typer.Option(7, "--seed", help="Random seed of the burst."),
    as_json: bool = JsonOption,
) -> None:
    """Seed a burst, then time until the warehouse's current state equals the source's."""
    from app.bench import bench_burst as run_bench

    with console.status(f"seeding {orders} orders and following them to the warehouse..."):
        result = run_bench(_settings(), orders, seed=seed_value)
    if as_json:
        print_json(result)
        return
    hops = result.hops
    transform = "-" if hops.transform_s is None else f"{hops.transform_s:.2f} s"
    out.print(
        f"seeded {result.orders} orders ({result.change_events} change events) in "
        f"{result.seed_s:.2f} s ({result.seed_orders_per_s} orders/s)\n"
        f"warehouse equal to the source {result.drain_after_seed_s:.2f} s after the seed ended\n"
        f"end to end: {result.orders_per_s} orders/s, {result.events_per_s} change events/s\n"
        f"caught up after the seed: slot {hops.source_slot_s:.2f} s, transform {transform}, "
        f"loader {hops.loader_s:.2f} s, warehouse equal {hops.warehouse_equal_s:.2f} s"
    )


@bench_app.command("idle")
@handles_errors
def bench_idle(
    seconds: float = typer.Option(60.0, "--seconds", min=1, help="How long to measure."),
    threads: int = typer.Option(
        0,
        "--threads",
        min=0,
        help="Also list each service's N busiest threads (grouped by name): where its CPU goes.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """CPU (% of one core) and RSS of each service of the local stack while it idles."""
    from rich.progress import Progress

    from app.idle import measure_idle
    from app.render import print_idle_usage

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"measuring for {seconds:g} s", total=seconds)
        result = measure_idle(
            _settings(),
            seconds,
            progress=lambda done: bar.update(task, completed=done),
            threads=threads,
        )
    if as_json:
        print_json(result)
        return
    print_idle_usage(out, result)


def _progress_line(message: str) -> None:
    console.print(f"[dim]{message}[/dim]")


@bench_app.command("capacity")
@handles_errors
def bench_capacity(
    rates: str = RatesOption,
    duration: float = StepOption,
    bound: float = BoundOption,
    as_json: bool = JsonOption,
) -> None:
    """Raise the offered shop load step by step (Locust) until this pipeline stops keeping up:
    its highest sustained rate in orders/s and change events/s."""
    from app.capacity import find_capacity

    result = find_capacity(
        _settings(),
        rates=parse_rates(rates),
        bound_s=bound,
        step_seconds=duration,
        say=_progress_line,
    )
    if as_json:
        print_json(result)
        return
    capacity = result.capacity["pipeline"]
    above = " (it sustained every rate run: more is possible)" if capacity.at_ladder_top else ""
    out.print(
        f"highest sustained rate: {capacity.orders_per_s:g} orders/s, "
        f"{capacity.events_per_s:g} change events/s{above}; reports in {result.run_dir}"
    )


@bench_app.command("compare")
@handles_errors
def bench_compare(
    rates: str = RatesOption,
    fixed_rate: float = typer.Option(
        200.0, "--fixed-rate", min=1, help="The rate the latency columns are read at, orders/s."
    ),
    duration: float = StepOption,
    bound: float = BoundOption,
    ceiling_duration: float = typer.Option(
        30.0, "--ceiling-duration", min=5, help="Seconds of unpaced load for the ceiling."
    ),
    keep_peers: bool = typer.Option(False, "--keep-peers", help="Leave the peers set up."),
    chart: Path | None = typer.Option(None, "--chart", help="Also copy the chart (PNG) here."),
    as_json: bool = JsonOption,
) -> None:
    """This pipeline, the Debezium JDBC sink and PostgreSQL logical replication under the same
    Locust load, plus the source-only ceiling: a table, a chart, and `pipeline/peer: R`."""
    from app.compare import compare
    from app.compare_report import print_compare

    result = compare(
        _settings(),
        rates=parse_rates(rates),
        fixed_rate=fixed_rate,
        bound_s=bound,
        step_seconds=duration,
        ceiling_seconds=ceiling_duration,
        keep_peers=keep_peers,
        say=_progress_line,
    )
    if chart is not None:
        chart.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.chart, chart)
    if as_json:
        print_json(result)
        return
    print_compare(out, result)


@bench_app.command("compare-runs")
@handles_errors
def bench_compare_runs(
    storage: Path | None = typer.Option(
        None, "--storage", help="Where `make bench` saved its runs (default: $ETL_HOME/benchmarks)."
    ),
    threshold: int = typer.Option(
        10, "--threshold", min=1, help="Percent a metric may get worse before it is flagged."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The newest saved `make bench` run against the one before it: every time and rate, exit 1
    when one got worse by more than --threshold percent (time up, rate or ratio down)."""
    from app.benchruns import compare_saved_runs
    from app.render import print_bench_comparison

    result = compare_saved_runs(storage or _settings().benchmarks_dir, threshold)
    if as_json:
        print_json(result)
    else:
        print_bench_comparison(out, result)
    raise typer.Exit(1 if result.regressed else 0)


@app.command()
@handles_errors
def quality(
    suites: list[str] | None = typer.Option(
        None, "--suite", help="Run only this suite (repeatable); default: every suite."
    ),
    as_json: bool = JsonOption,
    open_report: bool = typer.Option(False, "--open", help="Open the Data Docs in a browser."),
) -> None:
    """Validate the warehouse (GX checkpoints), build offline Data Docs, record the run; exit 1
    when a critical expectation failed."""
    import webbrowser
    from pathlib import Path

    from app.render import print_quality
    from quality.runner import run_quality

    with console.status("running the data quality suites..."):
        run = run_quality(_settings(), suites)
    if as_json:
        print_json(run)
    else:
        print_quality(out, run)
    if open_report and run.data_docs:
        webbrowser.open(Path(run.data_docs).as_uri())
    raise typer.Exit(0 if run.passed else 1)


@app.command()
@handles_errors
def dashboard() -> None:
    """Serve the health dashboard on ETL_BIND_HOST:ETL_DASHBOARD_PORT (foreground)."""
    from app.dashboard import serve

    settings = _settings()
    console.print(f"dashboard on {settings.dashboard_url}")
    serve(settings)


def main() -> None:  # pragma: no cover - console-script shim
    app()
