"""Typed results of `etl reconcile` and the warehouse report (`--json` prints them as they are).

Pydantic models rather than dicts so the producer (`loaders.reconcile`, `loaders.report`) and
every reader (the CLI's tables, the demo, tests) agree on one shape, and `--json` output is the
model's own serialisation.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from etl.progress import LoaderProgress

# --------------------------------------------------------------------------- reconcile


class SideSummary(BaseModel):
    """Tier 1 and 2 of one side: counts, the amount sum, the sum of row hashes, key bounds."""

    rows: int
    amount: str | None  # exact decimal text; None for a table without an amount
    hash_sum: str
    min_key: int | None
    max_key: int | None


#: missing in the warehouse, there but not in the source, or there with other values
Problem = Literal["missing", "unexpected", "differs"]


class KeyMismatch(BaseModel):
    key: int
    problem: Problem


class TableComparison(BaseModel):
    source: SideSummary
    warehouse: SideSummary
    counts_match: bool
    amounts_match: bool
    hashes_match: bool
    match: bool
    mismatched_keys: list[KeyMismatch] = Field(default_factory=list)


class HopLag(BaseModel):
    """Whether one hop caught up: True, False, or None when the hop reports nothing."""

    drained: bool | None
    behind: dict[str, int] | None = None  # "topic[partition]": messages not yet consumed
    target_lsn: str | None = None
    waited_s: float | None = None
    detail: str | None = None


class DrainReport(BaseModel):
    drained: bool
    hops: dict[str, HopLag]


class ReconcileResult(BaseModel):
    match: bool  # every table and the daily summaries agree
    drained: bool
    drain: DrainReport
    tables: dict[str, TableComparison]
    summaries_consistent: bool
    seconds: float


# --------------------------------------------------------------------------- warehouse report


class DayRevenue(BaseModel):
    day: str
    orders: int
    cancelled_orders: int
    items: int
    revenue: str
    avg_order_value: str | None


class LoadTotals(BaseModel):
    """Sums over `dw.etl_load_audit`: every batch any loader applied."""

    batches: int
    rows_in: int
    applied: int
    stale: int
    rejected: int
    last_commit: str | None


class WarehouseReport(BaseModel):
    generated_at: str
    rows: dict[str, int]
    revenue_by_day: list[DayRevenue]
    newest_source_commit_applied: str | None
    #: now - newest source commit applied: the pipeline's latency while the source is busy,
    #: the idle time since the last change otherwise
    end_to_end_lag_s: float | None
    loads: LoadTotals
    #: fact surrogate keys naming no dimension row, per reference (always 0: the loader creates
    #: inferred members first; counted because no foreign-key trigger enforces it, see V004)
    dangling_references: dict[str, int] = Field(default_factory=dict)
    loader_progress: LoaderProgress | None
