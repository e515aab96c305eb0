"""`make demo`: start the stack, seed orders, show what reached each CDC topic."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from etl.seed import SeedPlan, run_seed
from etl.settings import CAPTURED_TABLES, Settings
from etl.source_db import current_wal_lsn, wait_for_slot
from etl.topics import message_counts
from infra.local.runner import Report, up


def run_demo(settings: Settings, *, orders: int, seed: int, report: Report, out: Console) -> None:
    result = up(settings, report)
    report("etl", f"stack healthy in {result['seconds']:.1f} s")
    topics = [settings.cdc_topic(t) for t in CAPTURED_TABLES]
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
    out.print(
        "Counts include Debezium tombstones (one after each delete). "
        "`etl status` shows the stack; `etl down` stops it."
    )
