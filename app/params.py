"""Options shared by several `etl` commands, declared once (dbt-core's `cli/params.py` idea)."""

from __future__ import annotations

import typer

JsonOption = typer.Option(False, "--json", help="Print one JSON object instead of text.")
WaitOption = typer.Option(
    120.0, "--wait", min=0, help="Max seconds to wait for every hop to drain first."
)
OrdersOption = typer.Option(1000, "--orders", min=1, help="Orders to create.")
SeedOption = typer.Option(42, "--seed", help="Random seed: same seed, same data.")
