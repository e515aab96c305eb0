"""`make demo`: start the stack, seed orders, follow them to the warehouse, reconcile, then run
the data quality suites and say where their report is."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from app.render import print_quality, print_reconcile, print_warehouse
from app.seed import SeedPlan, run_seed
from etl.settings import Settings
from etl.source_db import current_wal_lsn, wait_for_slot
from etl.topics import message_counts
from infra.local.runner import Report, up
from loaders.reconcile import reconcile
from loaders.report import warehouse_report


def run_demo(settings: Settings, *, orders: int, seed: int, report: Report, out: Console) -> bool:
    """Returns whether source and warehouse reconcile and every quality suite passed."""
    result = up(settings, report)
    report("etl", f"stack healthy in {result.seconds:.1f} s")
    topics = settings.cdc_topics()
    before = message_counts(settings, topics)
    summary = run_seed(settings.source_dsn(), SeedPlan(orders=orders, seed=seed))
    report(
        "seed",
        f"{summary['orders']} orders, {summary['order_items']} items in "
        f"{summary['seconds']} s ({summary['orders_per_s']} orders/s)",
    )
    waited = wait_for_slot(settings, current_wal_lsn(settings), timeout_s=120)
    report("debezium", f"slot {settings.slot_name} caught up {waited:.1f} s after the seed ended")
    after = message_counts(settings, topics)
    table = Table("CDC topic", "new events", "total events", title="Change events in Kafka")
    for topic in topics:
        new = (after[topic] or 0) - (before[topic] or 0)
        table.add_row(topic, str(new), str(after[topic] or 0))
    out.print(table)
    out.print("Counts include Debezium tombstones (one after each delete).")
    matched = show_warehouse(settings, report, out)
    return show_quality(settings, out) and matched


def show_quality(settings: Settings, out: Console) -> bool:
    """Run every quality suite (GX checkpoints), print the summary and where the report is."""
    from quality.runner import run_quality

    run = run_quality(settings, trigger="demo")
    print_quality(out, run)
    out.print(
        f"Open the report: {run.data_docs} (or {settings.dashboard_url}/quality/); "
        "`etl quality` runs the suites again."
    )
    return run.passed


def show_warehouse(settings: Settings, report: Report, out: Console) -> bool:
    """Wait for the warehouse to drain, print what it holds, then reconcile with the source."""
    started = time.monotonic()
    result = reconcile(settings, wait_s=300)
    if result.drained:
        report(
            "pipeline",
            f"warehouse caught up {time.monotonic() - started:.1f} s after "
            "Debezium had every change",
        )
    print_warehouse(out, warehouse_report(settings))
    print_reconcile(out, result)
    out.print(
        f"Health: `etl status` or `etl dashboard` ({settings.dashboard_url}); "
        "`etl down` stops the stack."
    )
    return result.match
