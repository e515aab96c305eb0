"""Prints every benchmark's figures (rates, counts) at the end of the session."""

from __future__ import annotations

from tests.benchmarks.figures import summary_lines


def pytest_terminal_summary(terminalreporter) -> None:
    lines = summary_lines()
    if lines:
        terminalreporter.section("benchmark figures")
        for line in lines:
            terminalreporter.write_line(line)
