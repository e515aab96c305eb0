"""`etl bench compare-runs`: the newest saved `make bench` run against the one before it.

Storage is pytest-benchmark's own: `make bench` runs pytest with `--benchmark-storage` and
`--benchmark-autosave`, which writes `<storage>/<machine id>/NNNN_<commit>_<time>.json`, and the
runs are found and read back with its `FileStorage` (its numbering, its machine-id folders: runs
of another interpreter or platform are not compared, as with `--benchmark-compare`). The time
check is pytest-benchmark's own `min:<N>%` check (`--benchmark-compare-fail`'s), on the best
round of each benchmark.

Hand-written here, and why: pytest-benchmark checks regressions only inside a pytest session
(the run in progress against a saved one, `--benchmark-compare-fail`), and `pytest-benchmark
compare` tables saved runs without a threshold or an exit status; neither looks at
`extra_info`, where the benchmarks keep their rates (`*_per_s`, `*_ratio`; see
tests/benchmarks/figures.py), for which lower is worse. So this module pairs two saved runs,
checks the rates in the other direction, and gives one verdict.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, computed_field

from etl.errors import PrerequisiteMissing

Better = Literal["lower", "higher"]
TIME_FIELD = "min"  # the best round: what the benchmarks' rates are computed from
RATE_SUFFIXES = ("_per_s", "_ratio")


class SavedRun(BaseModel):
    file: str
    datetime: str
    commit: str | None


class MetricChange(BaseModel):
    benchmark: str
    metric: str
    better: Better
    previous: float | None  # None: the metric is not in that run
    newest: float | None
    change_pct: float | None
    regressed: bool


class RunComparison(BaseModel):
    storage: str
    machine_id: str
    threshold_pct: int
    previous: SavedRun | None = None
    newest: SavedRun | None = None
    metrics: list[MetricChange] = []
    message: str | None = None  # why nothing was compared

    @computed_field  # type: ignore[prop-decorator]
    @property
    def regressed(self) -> bool:
        return any(m.regressed for m in self.metrics)


def _pytest_benchmark() -> Any:
    try:
        import pytest_benchmark.storage.file as storage
        import pytest_benchmark.utils as utils
    except ImportError:
        raise PrerequisiteMissing(
            "pytest-benchmark is not installed: make venv (pip install -e '.[dev]')"
        ) from None
    return storage, utils


def saved_runs(storage: Path, machine_id: str) -> list[tuple[Path, dict[str, Any]]]:
    """This machine id's saved runs, oldest first (pytest-benchmark's numbering)."""
    if not (storage / machine_id).is_dir():
        return []
    file_storage, _ = _pytest_benchmark()
    runs = file_storage.FileStorage(
        storage, logging.getLogger(__name__), default_machine_id=machine_id
    )
    return [(storage / path, data) for path, data in runs.load()]


def run_metrics(run: dict[str, Any]) -> dict[tuple[str, str], tuple[Better, float]]:
    """(benchmark, metric) -> (which way is better, value): the time, then each rate."""
    metrics: dict[tuple[str, str], tuple[Better, float]] = {}
    for bench in run["benchmarks"]:
        metrics[bench["name"], f"time {TIME_FIELD} (s)"] = ("lower", bench["stats"][TIME_FIELD])
        for key, value in bench.get("extra_info", {}).items():
            if key.endswith(RATE_SUFFIXES) and isinstance(value, int | float):
                metrics[bench["name"], key] = ("higher", float(value))
    return metrics


def compare_runs(
    previous: dict[str, Any], newest: dict[str, Any], threshold_pct: int
) -> list[MetricChange]:
    """Every metric of either run; regressed when worse by more than threshold_pct percent."""
    _, utils = _pytest_benchmark()
    time_check = utils.parse_compare_fail(f"{TIME_FIELD}:{threshold_pct}%")
    before, after = run_metrics(previous), run_metrics(newest)
    changes = []
    for key in [*before, *(k for k in after if k not in before)]:
        better = (before.get(key) or after[key])[0]
        old = before[key][1] if key in before else None
        new = after[key][1] if key in after else None
        change, regressed = None, False
        if old is not None and new is not None:
            pair = ({TIME_FIELD: new}, {TIME_FIELD: old})
            change = time_check.compute(*pair)
            if better == "lower":
                regressed = time_check.fails(*pair) is not None
            else:  # a rate: the same percentage, the other direction
                regressed = change < -threshold_pct
        changes.append(
            MetricChange(
                benchmark=key[0],
                metric=key[1],
                better=better,
                previous=old,
                newest=new,
                change_pct=None if change is None else round(change, 1),
                regressed=regressed,
            )
        )
    return changes


def _saved_run(path: Path, data: dict[str, Any]) -> SavedRun:
    commit = data.get("commit_info", {}).get("id")
    return SavedRun(file=str(path), datetime=data.get("datetime", "?"), commit=commit)


def compare_saved_runs(storage: Path, threshold_pct: int = 10) -> RunComparison:
    """The newest saved run against the one before it (a message instead when fewer than 2)."""
    _, utils = _pytest_benchmark()
    machine_id = utils.get_machine_id()
    result = RunComparison(storage=str(storage), machine_id=machine_id, threshold_pct=threshold_pct)
    runs = saved_runs(storage, machine_id)
    if len(runs) < 2:
        result.message = (
            f"nothing to compare: {len(runs)} saved benchmark run(s) of {machine_id} in "
            f"{storage}, two needed (`make bench` saves one per run)"
        )
        return result
    (old_path, old), (new_path, new) = runs[-2:]
    result.previous, result.newest = _saved_run(old_path, old), _saved_run(new_path, new)
    result.metrics = compare_runs(old, new, threshold_pct)
    return result
