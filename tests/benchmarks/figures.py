"""The benchmarks' figures: into pytest-benchmark's `extra_info`, and printed after the run.

`extra_info` is saved with the run's JSON (`make bench` autosaves every run), so the rates are
kept beside pytest-benchmark's own time statistics. A figure named `*_per_s` or `*_ratio` is a
rate, higher is better, and `etl bench compare-runs` compares it between runs; any other figure
(counts, sizes, milliseconds) is context and is not compared.
"""

from __future__ import annotations

from typing import Any

#: (benchmark name, its one-sentence summary, figures) of this session, printed at its end.
RECORDED: list[tuple[str, str, dict[str, float]]] = []


def record_figures(benchmark: Any, summary: str, **figures: float) -> None:
    """Put `figures` into the benchmark's extra_info; each must be a positive measured number.

    `summary` is the sentence a reader wants (printed after the run, with the figures)."""
    for name, value in figures.items():
        assert value > 0, f"{benchmark.name}: {name} = {value!r}, not a measured positive figure"
    benchmark.extra_info.update(figures)
    RECORDED.append((benchmark.name, summary, figures))


def summary_lines() -> list[str]:
    lines = []
    for name, summary, figures in RECORDED:
        lines.append(f"{name}: {summary}")
        lines.append("    " + ", ".join(f"{key}={value:.6g}" for key, value in figures.items()))
    return lines
