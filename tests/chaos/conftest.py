"""The chaos suite's figures table at the end of the run (pytest's terminal summary)."""

from __future__ import annotations

from tests.chaos.harness import figures_table


def pytest_terminal_summary(terminalreporter) -> None:
    from tests.chaos.test_faults import RESULTS

    if RESULTS:
        terminalreporter.write_sep("=", "chaos figures")
        terminalreporter.write_line(figures_table(RESULTS))
