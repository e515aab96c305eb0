"""Options shared by several `etl` commands, declared once (dbt-core's `cli/params.py` idea)."""

from __future__ import annotations

import typer

JsonOption = typer.Option(False, "--json", help="Print one JSON object instead of text.")
WaitOption = typer.Option(
    120.0, "--wait", min=0, help="Max seconds to wait for every hop to drain first."
)
OrdersOption = typer.Option(1000, "--orders", min=1, help="Orders to create.")
SeedOption = typer.Option(42, "--seed", help="Random seed: same seed, same data.")


def parse_rates(value: str) -> list[float]:
    """`--rates 25,50,100`: the offered rates, orders/s, each > 0; a bad list names the option."""
    try:
        rates = sorted({float(part) for part in value.split(",") if part.strip()})
    except ValueError:
        rates = []
    if not rates or rates[0] <= 0:
        raise typer.BadParameter(f"{value!r} is not a comma-separated list of orders/s > 0")
    return rates


#: The offered rates, orders/s, that `etl bench capacity` and `compare` step through by default.
DEFAULT_RATES = (10, 25, 50, 100, 200, 300, 400, 600, 800)
RatesOption = typer.Option(
    ",".join(str(rate) for rate in DEFAULT_RATES),
    "--rates",
    help="Offered rates to step through, orders/s, comma-separated.",
)
StepOption = typer.Option(30.0, "--duration", min=5, help="Seconds of load at each rate.")
BoundOption = typer.Option(
    2.0, "--bound", min=0.01, help="Sustained: e2e p95 and the backlog left stay within this (s)."
)
