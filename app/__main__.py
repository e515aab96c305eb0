"""`python -m app ...` is the `etl` command (how services and tests start it by module name)."""

from app.cli import app

app(prog_name="etl")
