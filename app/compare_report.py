"""What `etl bench compare` shows: one table, one chart, and the line `pipeline/peer: R`.

The chart is matplotlib (Agg, no display needed), imported only when a chart is drawn: it is a
dev dependency, like Locust.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from app.capacity import Capacity, Step, TargetStep
from app.compare import RATIO_PEER, TARGETS, CompareResult

LABELS = {
    "pipeline": "this pipeline (Debezium -> Kafka -> Spark -> loader)",
    "jdbc": "Debezium JDBC sink connector (peer)",
    "logical": "PostgreSQL logical replication (floor)",
}
#: Locust keeps whole milliseconds: a sub-millisecond p95 is drawn at this floor on a log axis.
CHART_FLOOR_S = 0.001


def fixed_rate_step(result: CompareResult) -> Step | None:
    """The step at the fixed rate, or the highest one run if the ladder stopped before it."""
    at_rate = [s for s in result.steps if s.offered_orders_per_s == result.fixed_rate]
    return at_rate[0] if at_rate else (result.steps[-1] if result.steps else None)


def _latency_cells(target: TargetStep | None) -> list[str]:
    if target is None:
        return ["-", "-", "-"]
    return ["-" if v is None else f"{v:.3f}" for v in (target.p50_s, target.p95_s, target.p99_s)]


def _capacity_cells(capacity: Capacity) -> list[str]:
    plus = "+" if capacity.at_ladder_top else ""
    return [f"{capacity.orders_per_s:,.1f}{plus}", f"{capacity.events_per_s:,.0f}{plus}"]


def ratio_line(result: CompareResult) -> str:
    """The report's last line, `pipeline/peer: R`; R is what the issue's bar reads."""
    return f"pipeline/peer: {'n/a' if result.ratio is None else f'{result.ratio:.2f}'}"


def ratio_note(result: CompareResult) -> str | None:
    """What R means when it is not a plain ratio of two measured capacities."""
    if result.ratio is None:
        return f"R is n/a: the {RATIO_PEER} peer sustained none of the rates offered"
    if result.capacity["pipeline"].at_ladder_top and result.capacity[RATIO_PEER].at_ladder_top:
        return "both sustained the highest rate run: R compares lower bounds"
    return None


def print_compare(console: Console, result: CompareResult) -> None:
    """The table (latency at the fixed rate, highest sustained rate), then `pipeline/peer: R`."""
    step = fixed_rate_step(result)
    rate = f"{step.offered_orders_per_s:g}" if step else "-"
    table = Table(
        title=f"e2e latency at {rate} orders/s (s) and highest sustained rate "
        f"(p95 and backlog <= {result.bound_s:g} s); {result.machine}",
        title_justify="left",
    )
    for header in ("", "p50", "p95", "p99", "orders/s", "change events/s"):
        table.add_column(header, justify="left" if not header else "right")
    for name in TARGETS:
        target = step.targets.get(name) if step else None
        table.add_row(
            LABELS[name], *_latency_cells(target), *_capacity_cells(result.capacity[name])
        )
    if result.ceiling is not None:
        ceiling = result.ceiling
        table.add_row(
            "source only, pipeline stopped (ceiling)",
            "-",
            "-",
            "-",
            f"{ceiling.orders_per_s:,.1f}",
            f"{ceiling.events_per_s:,.0f}",
        )
    console.print(table)
    if any(capacity.at_ladder_top for capacity in result.capacity.values()):
        console.print("+: sustained the highest rate run, so the true capacity is higher")
    if result.ceiling_skipped:
        console.print(f"ceiling skipped: {result.ceiling_skipped}")
    console.print(f"reports: {result.run_dir}", soft_wrap=True)
    console.print(f"chart: {result.chart}", soft_wrap=True)
    if note := ratio_note(result):
        console.print(note, soft_wrap=True)
    console.print(ratio_line(result), soft_wrap=True)


def save_chart(result: CompareResult, path: Path) -> None:
    """e2e p95 against offered rate for every target, the bound and the ceiling marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    for name in TARGETS:
        points = [
            (s.offered_orders_per_s, max(CHART_FLOOR_S, t.p95_s), t.sustained)
            for s in result.steps
            if (t := s.targets.get(name)) is not None and t.p95_s is not None
        ]
        if not points:
            continue
        (line,) = ax.plot(
            [p[0] for p in points], [p[1] for p in points], marker="o", label=LABELS[name]
        )
        missed = [p for p in points if not p[2]]
        ax.scatter(
            [p[0] for p in missed], [p[1] for p in missed], marker="x", s=90, color=line.get_color()
        )
    ax.axhline(result.bound_s, color="grey", linestyle=":", label=f"bound {result.bound_s:g} s")
    if result.ceiling is not None:
        ax.axvline(
            result.ceiling.orders_per_s,
            color="black",
            linestyle="--",
            label=f"source-only ceiling {result.ceiling.orders_per_s:,.0f} orders/s",
        )
    ax.set_yscale("log")
    ax.set_xlabel("offered rate (orders/s, shop mix)")
    ax.set_ylabel("e2e p95, COMMIT to row in target (s)")
    ax.set_title(
        f"{ratio_line(result)}  ({result.machine}, {result.started_at[:10]}; x: not sustained)"
        + (f"\n{note}" if (note := ratio_note(result)) else ""),
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
