"""Human-readable output of the typed results (status, reconcile, warehouse report) with rich.

`--json` prints the models themselves; these functions are the text view of the same objects.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.benchruns import MetricChange, RunComparison
from app.dlq import DeadLetterEntry
from app.idle import WARM_UP_S, IdleUsage
from etl.dead_letters import DeadLetterSummary
from etl.quality_results import QualityRun, failures_line
from infra.local.status import StackStatus
from loaders.results import ReconcileResult, WarehouseReport


def print_status(out: Console, result: StackStatus) -> None:
    table = Table("component", "state", "pid", "port", "restarts", "detail")
    for c in result.components:
        colour = "green" if c.state == "healthy" else "red"
        table.add_row(
            c.name,
            f"[{colour}]{c.state}[/{colour}]",
            str(c.pid or "-"),
            str(c.port or "-"),
            "-" if c.restarts is None else str(c.restarts),
            c.detail,
        )
    out.print(table)
    if result.quality is not None:
        print_quality_flag(out, result.quality)
    if result.dead_letters is not None and result.dead_letters.total:
        print_dead_letters(out, result.dead_letters)
    if result.replication_slot is not None and result.replication_slot.warning:
        out.print(
            "[yellow]warning:[/yellow] " + escape(result.replication_slot.warning),
            highlight=False,
            soft_wrap=True,
        )


def print_dead_letters(out: Console, summary: DeadLetterSummary) -> None:
    """`etl status`: changes the loader sent to the DLQ instead of loading, newest first."""
    out.print(
        f"loader dead letters: [red]{summary.total}[/red] change(s) not loaded, "
        "sent to the DLQ topic (newest first):"
    )
    for d in summary.newest:
        out.print(
            f"  {d.failed_at:%Y-%m-%d %H:%M:%S} {d.entity or '?'} key {d.key or '-'} at "
            f"{d.topic}[{d.partition}]@{d.offset}: {d.rule}: " + escape(d.reason),
            highlight=False,
            soft_wrap=True,  # one line per dead letter, whatever the terminal's width
        )


def print_dead_letter_list(out: Console, entries: list[DeadLetterEntry]) -> None:
    """`etl dlq list`: one line per dead letter, oldest first, whatever the terminal's width (a
    table of eight columns is unreadable at 80)."""
    if not entries:
        out.print("the dead-letter topic holds no dead letter (that matches)")
        return
    for e in entries:
        when = f"{e.failed_at:%Y-%m-%d %H:%M:%S}" if e.failed_at else "-"
        replayed = f" [replayed {e.replayed_at:%Y-%m-%d %H:%M:%S}]" if e.replayed_at else ""
        out.print(
            f"{when} {e.stage} {e.entity or '?'} {e.source_position} key {e.key or '-'}: "
            f"{e.rule}: {e.reason}{replayed}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    replayed_count = sum(e.replayed_at is not None for e in entries)
    out.print(f"{len(entries)} dead letter(s), {replayed_count} replayed", highlight=False)


def print_quality_flag(out: Console, run: QualityRun) -> None:
    """One line on the newest quality run (`etl status`): passed, or what failed."""
    when = f"{run.started_at:%Y-%m-%d %H:%M:%S %Z}"
    if run.passed:
        out.print(f"data quality: [green]passed[/green] (run {run.run_id}, {run.trigger}, {when})")
    else:
        out.print(
            f"data quality: [red]FAILED[/red] (run {run.run_id}, {run.trigger}, {when}): "
            + escape(failures_line(run)),
            highlight=False,
        )


def print_quality(out: Console, run: QualityRun) -> None:
    table = Table("suite", "expectations", "failed", "success", title="Data quality")
    for s in run.suites:
        ok = "[green]yes[/green]" if s.success else "[red]NO[/red]"
        table.add_row(s.suite, str(s.expectations), "-" if s.error else str(s.failed), ok)
    out.print(table)
    for s in run.suites:
        if s.error:
            out.print(f"[red]{s.suite}[/red]: could not run: {escape(s.error)}", highlight=False)
        for f in s.failed_expectations:
            what = f.description or f.expectation + (f" on {f.column}" if f.column else "")
            seen = f" ({f.observed})" if f.observed else ""
            severity = escape(f"[{f.severity}]")
            out.print(f"[red]{s.suite}[/red] {severity}: {escape(what + seen)}", highlight=False)
    verdict = "[green]PASSED[/green]" if run.passed else "[red]FAILED[/red]"
    out.print(f"data quality: {verdict} in {run.seconds} s")
    if run.data_docs:
        out.print(f"report (Data Docs): {run.data_docs}", highlight=False)


def print_reconcile(out: Console, result: ReconcileResult) -> None:
    table = Table("table", "source rows", "warehouse rows", "match", "first mismatching keys")
    for name, t in result.tables.items():
        keys = ", ".join(f"{k.key} ({k.problem})" for k in t.mismatched_keys[:5])
        table.add_row(
            name,
            str(t.source.rows),
            str(t.warehouse.rows),
            "[green]yes[/green]" if t.match else "[red]NO[/red]",
            keys or "-",
        )
    out.print(table)
    words = {True: "drained", False: "BEHIND", None: "not reported"}
    hops = ", ".join(f"{k} {words[v.drained]}" for k, v in result.drain.hops.items())
    out.print(f"pipeline {hops}; daily summaries consistent: {result.summaries_consistent}")
    verdict = "[green]MATCH[/green]" if result.match else "[red]MISMATCH[/red]"
    out.print(f"reconcile: {verdict} in {result.seconds} s")


def print_warehouse(out: Console, report: WarehouseReport) -> None:
    rows = Table("warehouse table", "rows", title="Warehouse (schema dw)")
    for name, count in report.rows.items():
        rows.add_row(name, str(count))
    out.print(rows)
    days = Table(
        "day", "orders", "cancelled", "items", "revenue", "avg order value", title="Revenue by day"
    )
    for day in report.revenue_by_day:
        days.add_row(
            day.day,
            str(day.orders),
            str(day.cancelled_orders),
            str(day.items),
            day.revenue,
            str(day.avg_order_value),
        )
    out.print(days)
    out.print(f"newest source commit in the warehouse: {report.newest_source_commit_applied}")
    broken = {ref: n for ref, n in report.dangling_references.items() if n}
    if broken:
        out.print(f"[red]facts naming no dimension row: {broken}[/red]")


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _verdict(m: MetricChange, threshold_pct: int) -> str:
    if m.change_pct is None:
        return "only in one run"
    if m.regressed:
        return f"[red]REGRESSED[/red] ({m.better} is better)"
    gain = -m.change_pct if m.better == "lower" else m.change_pct
    return "[green]improved[/green]" if gain > threshold_pct else "ok"


def print_bench_comparison(out: Console, result: RunComparison) -> None:
    if result.message:
        out.print(result.message, highlight=False, soft_wrap=True)  # one line, never wrapped
        return
    assert result.previous is not None and result.newest is not None
    table = Table(
        "benchmark",
        "metric",
        "previous",
        "newest",
        "change",
        "",
        title=f"newest {Path(result.newest.file).name}\nagainst {Path(result.previous.file).name}",
    )
    for m in result.metrics:
        table.add_row(
            m.benchmark,
            m.metric,
            _figure(m.previous),
            _figure(m.newest),
            "-" if m.change_pct is None else f"{m.change_pct:+.1f}%",
            _verdict(m, result.threshold_pct),
        )
    out.print(table)
    worse = sum(m.regressed for m in result.metrics)
    out.print(
        f"[red]{worse} metric(s) worse by more than {result.threshold_pct}%[/red]"
        if worse
        else f"[green]no metric worse by more than {result.threshold_pct}%[/green]"
    )


def print_idle_usage(out: Console, result: IdleUsage) -> None:
    table = Table("service", "CPU % of one core", "RSS MiB", "processes", "up")
    for service in result.services:
        table.add_row(
            service.name,
            f"{service.cpu_pct_of_core:.2f}",
            f"{service.rss_mib:.0f}",
            str(service.processes),
            f"{service.uptime_s / 60:.0f} min",
        )
    table.add_row(
        "[b]stack[/b]", f"[b]{result.cpu_pct_of_core:.2f}[/b]", f"[b]{result.rss_mib:.0f}[/b]"
    )
    out.print(table)
    for service in result.services:
        if service.threads:
            busiest = ", ".join(
                f"{t.name} ({t.threads}) {t.cpu_pct_of_core:.2f}" for t in service.threads
            )
            out.print(f"{service.name}: {busiest}", highlight=False)
    notes = [f"measured over {result.seconds:g} s"]
    if result.source_row_changes:
        notes.append(f"not idle: the source changed {result.source_row_changes} rows meanwhile")
    if not result.warmed_up:
        notes.append(
            f"a service is up for under {WARM_UP_S / 60:.0f} min: the figures include the JVMs' "
            "JIT warm-up"
        )
    out.print("; ".join(notes), highlight=False)
