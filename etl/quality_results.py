"""The outcome of a quality run (the suites of `quality/`), and its rows in `dw.quality_results`.

Here, in the base layer, because three parts share it without importing each other: `quality`
writes the rows, the loader's gate reads whether its run failed, and `etl status` and the
dashboard flag the newest run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import psycopg
from pydantic import BaseModel, computed_field

Trigger = Literal["cli", "gate", "demo"]


class FailedExpectation(BaseModel):
    """One expectation that did not hold: its type, column, what it says, what was seen."""

    expectation: str
    column: str | None = None
    description: str | None = None
    severity: str = "critical"
    observed: str | None = None


class SuiteResult(BaseModel):
    suite: str
    expectations: int
    failed: int
    critical_failed: int
    success: bool
    failed_expectations: list[FailedExpectation] = []
    error: str | None = None  # the suite could not run (e.g. Kafka down for the DLQ suite)


class QualityRun(BaseModel):
    run_id: str
    trigger: Trigger
    started_at: datetime
    seconds: float
    suites: list[SuiteResult]
    data_docs: str | None = None  # index.html of the report, None when not built
    docs_seconds: float | None = None  # of `seconds`, building the Data Docs

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """No critical expectation failed and every suite ran."""
        return all(s.critical_failed == 0 and s.error is None for s in self.suites)


_INSERT = """
INSERT INTO dw.quality_results (run_id, suite, trigger, started_at, expectations, failed,
    critical_failed, success, failed_expectations, error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
_LAST_RUN = """
SELECT run_id, trigger, started_at, suite, expectations, failed, critical_failed, success,
       failed_expectations::text, error,
       extract(epoch FROM max(finished_at) OVER () - started_at)::float
FROM dw.quality_results
WHERE run_id = (SELECT run_id FROM dw.quality_results ORDER BY started_at DESC LIMIT 1)
ORDER BY suite
"""


def record_run(dsn: str, run: QualityRun) -> None:
    """Write one row per suite of `run` (one transaction)."""
    with psycopg.connect(dsn) as conn:
        for s in run.suites:
            failed = "[" + ",".join(f.model_dump_json() for f in s.failed_expectations) + "]"
            conn.execute(
                _INSERT,
                (
                    run.run_id,
                    s.suite,
                    run.trigger,
                    run.started_at,
                    s.expectations,
                    s.failed,
                    s.critical_failed,
                    s.success,
                    failed,
                    s.error,
                ),
            )


def last_run(dsn: str) -> QualityRun | None:
    """The newest recorded run, None when there is none (or no results table yet)."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            rows = conn.execute(_LAST_RUN).fetchall()
    except psycopg.errors.UndefinedTable:
        return None
    if not rows:
        return None
    from pydantic import TypeAdapter

    failures = TypeAdapter(list[FailedExpectation])
    suites = [
        SuiteResult(
            suite=r[3],
            expectations=r[4],
            failed=r[5],
            critical_failed=r[6],
            success=r[7],
            failed_expectations=failures.validate_json(r[8]),
            error=r[9],
        )
        for r in rows
    ]
    run_id, trigger, started_at = rows[0][:3]
    return QualityRun(
        run_id=run_id,
        trigger=trigger,
        started_at=started_at,
        seconds=round(rows[0][10] or 0.0, 3),
        suites=suites,
    )


def failures_line(run: QualityRun) -> str:
    """`suite: expectation (column), ...` of a run's critical failures, for one status line."""
    parts = []
    for s in run.suites:
        if s.error:
            parts.append(f"{s.suite}: could not run ({s.error})")
        for f in s.failed_expectations:
            if f.severity == "critical":
                what = f.description or f.expectation + (f" ({f.column})" if f.column else "")
                parts.append(f"{s.suite}: {what}")
    return "; ".join(parts)
