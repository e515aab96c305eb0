"""`etl bench compare-runs` over runs saved by a real pytest-benchmark run.

A tiny benchmark is run once for real (pytest in a subprocess, `--benchmark-autosave`), so the
saved JSON is pytest-benchmark's own format; further runs are that file with its times and
rates scaled, saved under the next numbers the way pytest-benchmark numbers them.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.benchruns import compare_saved_runs
from tests.unit.test_cli import run_etl

pytestmark = pytest.mark.unit

TINY_BENCHMARK = """
def test_tiny(benchmark):
    benchmark.pedantic(sum, args=(range(10_000),), rounds=3, iterations=1)
    best = benchmark.stats["min"]
    benchmark.extra_info.update(items=10_000, items_per_s=10_000 / best, hit_ratio=0.5)
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The JSON file one real `--benchmark-autosave` run of TINY_BENCHMARK saved."""
    work = tmp_path_factory.mktemp("tiny-bench")
    (work / "test_tiny.py").write_text(TINY_BENCHMARK)
    (work / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "test_tiny.py", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:locust", f"--benchmark-storage=file://{work / 'runs'}"]
    subprocess.run(
        [*command, "--benchmark-autosave"],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=120,
    )
    (saved,) = (work / "runs").glob("*/0001_*.json")
    return saved


def save_scaled(real: Path, storage: Path, number: int, *, time: float, rate: float) -> Path:
    """The real run with every time statistic times `time` and every rate times `rate`."""
    data: dict[str, Any] = json.loads(real.read_text())
    data = copy.deepcopy(data)
    for bench in data["benchmarks"]:
        for field in ("min", "max", "mean", "median"):
            bench["stats"][field] *= time
        for key in ("items_per_s", "hit_ratio"):
            bench["extra_info"][key] *= rate
    target = storage / real.parent.name / f"{number:04d}_scaled.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data))
    return target


@pytest.fixture
def storage(real_run: Path, tmp_path: Path) -> Path:
    """A storage holding the real run as run 0001."""
    save_scaled(real_run, tmp_path, 1, time=1.0, rate=1.0)
    return tmp_path


def changes(storage: Path) -> dict[str, tuple[float | None, bool]]:
    result = compare_saved_runs(storage, threshold_pct=10)
    assert result.message is None
    return {m.metric: (m.change_pct, m.regressed) for m in result.metrics}


def test_the_real_run_holds_the_figures_compared(real_run: Path) -> None:
    (bench,) = json.loads(real_run.read_text())["benchmarks"]
    assert bench["stats"]["min"] > 0
    assert bench["extra_info"]["items_per_s"] == pytest.approx(10_000 / bench["stats"]["min"])


def test_one_saved_run_says_there_is_nothing_to_compare(storage: Path) -> None:
    result = compare_saved_runs(storage)
    assert not result.regressed and result.metrics == []
    assert result.message and "1 saved benchmark run(s)" in result.message
    assert "make bench" in result.message


def test_no_storage_at_all_is_a_message_too(tmp_path: Path) -> None:
    result = compare_saved_runs(tmp_path / "never-benchmarked")
    assert result.message and "0 saved benchmark run(s)" in result.message
    assert not (tmp_path / "never-benchmarked").exists()


def test_slower_time_and_lower_rates_are_flagged(real_run: Path, storage: Path) -> None:
    save_scaled(real_run, storage, 2, time=1.5, rate=0.5)
    assert changes(storage) == {
        "time min (s)": (50.0, True),
        "items_per_s": (-50.0, True),
        "hit_ratio": (-50.0, True),
    }  # `items`, a count, is context and not compared


def test_improvements_and_changes_within_the_threshold_are_not_flagged(
    real_run: Path, storage: Path
) -> None:
    save_scaled(real_run, storage, 2, time=0.5, rate=2.0)
    assert changes(storage) == {
        "time min (s)": (-50.0, False),
        "items_per_s": (100.0, False),
        "hit_ratio": (100.0, False),
    }
    save_scaled(real_run, storage, 3, time=0.5 * 1.08, rate=2.0 * 0.95)
    assert changes(storage) == {
        "time min (s)": (8.0, False),
        "items_per_s": (-5.0, False),
        "hit_ratio": (-5.0, False),
    }


def test_only_the_newest_two_runs_are_compared(real_run: Path, storage: Path) -> None:
    save_scaled(real_run, storage, 2, time=3.0, rate=0.2)  # a bad run, then a recovery
    save_scaled(real_run, storage, 3, time=1.0, rate=1.0)
    result = compare_saved_runs(storage)
    assert result.previous and result.previous.file.endswith("0002_scaled.json")
    assert result.newest and result.newest.file.endswith("0003_scaled.json")
    assert not result.regressed


def test_cli_exit_code_and_json(real_run: Path, storage: Path) -> None:
    single = run_etl("bench", "compare-runs", "--storage", str(storage))
    assert single.returncode == 0 and "nothing to compare" in single.stdout
    save_scaled(real_run, storage, 2, time=1.2, rate=1.0)
    table = run_etl("bench", "compare-runs", "--storage", str(storage))
    assert table.returncode == 1, table.stderr
    assert "REGRESSED" in table.stdout and "1 metric(s) worse by more than 10%" in table.stdout
    as_json = run_etl("bench", "compare-runs", "--storage", str(storage), "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["regressed"] is True
    assert [m["metric"] for m in report["metrics"] if m["regressed"]] == ["time min (s)"]
    lenient = run_etl("bench", "compare-runs", "--storage", str(storage), "--threshold", "25")
    assert lenient.returncode == 0
