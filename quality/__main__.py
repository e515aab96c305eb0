"""`python -m quality [--suite NAME ...] [--warehouse-only] [--trigger gate] [--no-docs]`: one
run, its JSON on stdout, exit 1 when a critical expectation failed (2: could not run). The
loader's gate starts it by module name (the loader must not import GX or this package); people
use `etl quality`."""

from __future__ import annotations

import sys

import typer

from etl.errors import EtlError
from etl.settings import load_settings
from quality.runner import run_quality
from quality.suites import WAREHOUSE_SUITES


def main(
    suites: list[str] | None = typer.Option(None, "--suite", help="Only this suite (repeatable)."),
    warehouse_only: bool = typer.Option(
        False, "--warehouse-only", help="The suites that read only the warehouse (the gate's)."
    ),
    trigger: str = typer.Option("cli", help="cli, gate or demo: recorded with the run."),
    no_docs: bool = typer.Option(False, "--no-docs", help="Do not build Data Docs."),
) -> None:
    names = list(WAREHOUSE_SUITES) if warehouse_only else suites
    try:
        run = run_quality(
            load_settings(),
            names,
            trigger=trigger,  # type: ignore[arg-type]
            build_docs=not no_docs,
        )
    except EtlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(run.model_dump_json())
    raise typer.Exit(0 if run.passed else 1)


if __name__ == "__main__":
    typer.run(main)
